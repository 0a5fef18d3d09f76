/*
 * The replay buffer of the link's sending side (hvsim --serve-link; the
 * hypervisor keeps its own in static memory, same rules): every record
 * frame (METER, EVENT) not yet acknowledged, in sequence order, bounded in
 * bytes.
 *
 * Rules (docs/management-protocol.md section 5, docs/billingd.md):
 *   1. Records are kept as sealed frames, exactly as first sent; a resend
 *      sets the RESENT flag on a copy (link_send_frame()).
 *   2. ACK(seq) frees every record with sequence <= seq.
 *   3. When a new record does not fit in max_bytes, the oldest METERs are
 *      dropped first (counters are cumulative, so a later METER carries the
 *      same totals); EVENTs go only when no METER is left. Drops are
 *      counted; the count is what the next HELLO should report.
 *
 * Size arithmetic: a METER interval of D domains is ceil(D/64) frames of
 * 52 + 120 * (domains in it) bytes, about 121 bytes per domain. Holding T
 * seconds of 1 s metering for D domains takes 121 * D * T bytes: 2000
 * domains for 10 minutes = 145 MB; 64 domains for an hour = 28 MB.
 */
#ifndef LINK_REPLAY_H
#define LINK_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replay_rec {
	uint64_t seq;
	uint8_t type; /* WIRE_METER or WIRE_EVENT */
	uint32_t len;
	uint8_t *frame; /* NULL: dropped (a hole, skipped) */
};

struct replay {
	struct replay_rec *r; /* ring of cap slots, n used from head */
	size_t cap, head, n;
	size_t live; /* slots with a frame */
	size_t bytes, max_bytes;
	uint64_t dropped_meters, dropped_events; /* since start */
	size_t high_water;                       /* most bytes ever held */
};

void replay_init(struct replay *rp, size_t max_bytes);
void replay_free(struct replay *rp);

/* Keep a copy of the sealed record frame (len bytes) with sequence seq,
 * which must be above every seq already held. Drops old records as rule 3
 * says. 0, or FS_ENOMEM (nothing kept) / FS_E2BIG (larger than max_bytes:
 * not kept, counted as dropped). */
int replay_add(struct replay *rp, const uint8_t *frame, size_t len,
               uint64_t seq, uint8_t type);

/* Free every record with sequence <= seq. */
void replay_ack(struct replay *rp, uint64_t seq);

/* The k-th slot from the oldest, k < rp->n (frame NULL if dropped). */
const struct replay_rec *replay_at(const struct replay *rp, size_t k);

#endif
