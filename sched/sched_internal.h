/*
 * Internals shared by sched.c (policy and heaps) and sched_check.c
 * (verification). Not part of the interface: include sched.h.
 */
#ifndef SCHED_INTERNAL_H
#define SCHED_INTERNAL_H

#include "sched.h"

#define NO_IDX UINT32_MAX

/* 4-ary heaps: half the depth of a binary heap, and a node's four 16-byte
 * children fill one 64-byte cache line, so a sift costs about one cache miss
 * per level, 8 levels at 65536 entities. */
#define HEAP_D 4u

/* ---- wrap-safe virtual time ------------------------------------------ */

static inline int64_t vt_diff(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

static inline uint64_t eff_vt(const struct sched_entity *e)
{
	return e->warped ? e->avt - e->warp_vt : e->avt;
}

/* C in the virtual time of an entity of weight w. */
static inline uint64_t allow_vt(const struct sched *s, uint32_t w)
{
	return (s->ctx_allow_ns << SCHED_VT_SCALE_SHIFT) / w;
}

enum heap_id { H_READY, H_RUNNABLE, H_THROTTLE };

static inline bool slot_less(const struct sched_slot *a,
                             const struct sched_slot *b)
{
	int64_t d = vt_diff(a->key, b->key);
	return d < 0 || (d == 0 && (int32_t)(a->seq - b->seq) < 0);
}

static inline bool in_heap(const struct sched *s, enum heap_id h,
                           const struct sched_entity *e)
{
	return s->pos[h][e->h] != NO_IDX;
}

#endif
