/*
 * Replay buffer: a growable ring of frame copies; see replay.h for the rules.
 *
 * Dropped METERs in the middle (behind older EVENTs) leave holes; the ring
 * is compacted when holes outnumber live records, so a peer that never
 * acknowledges cannot make the slot array grow without bound.
 */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "accounting/wire.h"
#include "fs_errors.h"

void replay_init(struct replay *rp, size_t max_bytes)
{
	memset(rp, 0, sizeof(*rp));
	rp->max_bytes = max_bytes;
}

void replay_free(struct replay *rp)
{
	for (size_t k = 0; k < rp->n; k++)
		free(rp->r[(rp->head + k) % rp->cap].frame);
	free(rp->r);
	memset(rp, 0, sizeof(*rp));
}

static struct replay_rec *slot(const struct replay *rp, size_t k)
{
	return &rp->r[(rp->head + k) % rp->cap];
}

const struct replay_rec *replay_at(const struct replay *rp, size_t k)
{
	return slot(rp, k);
}

static void drop(struct replay *rp, struct replay_rec *s)
{
	rp->bytes -= s->len;
	rp->live--;
	free(s->frame);
	s->frame = NULL;
}

/* Pop holes at the head. */
static void trim(struct replay *rp)
{
	while (rp->n && !slot(rp, 0)->frame) {
		rp->head = (rp->head + 1) % rp->cap;
		rp->n--;
	}
	if (!rp->n)
		rp->head = 0;
}

/* Rewrite the ring with live records only, from slot 0. */
static void compact(struct replay *rp)
{
	size_t w = 0;
	struct replay_rec *nr = malloc(rp->cap * sizeof(*nr));
	if (!nr)
		return; /* keep the holes; try again later */
	for (size_t k = 0; k < rp->n; k++)
		if (slot(rp, k)->frame)
			nr[w++] = *slot(rp, k);
	free(rp->r);
	rp->r = nr;
	rp->head = 0;
	rp->n = w;
}

/* Drop the oldest live record of `type`; false if there is none. */
static bool drop_oldest(struct replay *rp, uint8_t type)
{
	for (size_t k = 0; k < rp->n; k++) {
		struct replay_rec *s = slot(rp, k);
		if (s->frame && s->type == type) {
			drop(rp, s);
			if (type == WIRE_METER)
				rp->dropped_meters++;
			else
				rp->dropped_events++;
			return true;
		}
	}
	return false;
}

int replay_add(struct replay *rp, const uint8_t *frame, size_t len,
               uint64_t seq, uint8_t type)
{
	if (len > rp->max_bytes) {
		if (type == WIRE_METER)
			rp->dropped_meters++;
		else
			rp->dropped_events++;
		return FS_E2BIG;
	}
	while (rp->bytes + len > rp->max_bytes)
		if (!drop_oldest(rp, WIRE_METER) &&
		    !drop_oldest(rp, WIRE_EVENT))
			break;
	trim(rp);
	if (rp->n > 64 && rp->n - rp->live > rp->live)
		compact(rp);
	if (rp->n == rp->cap) {
		size_t ncap = rp->cap ? rp->cap * 2 : 256;
		struct replay_rec *nr = malloc(ncap * sizeof(*nr));
		if (!nr)
			return FS_ENOMEM;
		for (size_t k = 0; k < rp->n; k++)
			nr[k] = *slot(rp, k);
		free(rp->r);
		rp->r = nr;
		rp->cap = ncap;
		rp->head = 0;
	}
	uint8_t *copy = malloc(len);
	if (!copy)
		return FS_ENOMEM;
	memcpy(copy, frame, len);
	*slot(rp, rp->n) = (struct replay_rec){
	    .seq = seq, .type = type, .len = (uint32_t)len, .frame = copy};
	rp->n++;
	rp->live++;
	rp->bytes += len;
	if (rp->bytes > rp->high_water)
		rp->high_water = rp->bytes;
	return 0;
}

void replay_ack(struct replay *rp, uint64_t seq)
{
	while (rp->n && slot(rp, 0)->seq <= seq) {
		struct replay_rec *s = slot(rp, 0);
		if (s->frame)
			drop(rp, s);
		rp->head = (rp->head + 1) % rp->cap;
		rp->n--;
	}
	trim(rp);
}
