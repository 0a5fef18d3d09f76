/*
 * sched_check(): verifies the whole scheduler state against the numbered
 * invariants at the top of sched.c. Kept apart from the policy so the hot
 * path stays readable; it reads the same structures through
 * sched_internal.h.
 */
#include "sched_internal.h"

static const char *check_heap(const struct sched *s, enum heap_id h)
{
	const struct sched_slot *v = s->heap[h];
	uint32_t n = s->n_heap[h];
	for (uint32_t i = 0; i < n; i++) {
		if (v[i].h >= s->cap || !s->ents[v[i].h])
			return "heap slot without entity";
		struct sched_entity *e = s->ents[v[i].h];
		if (e->h != v[i].h || s->pos[h][e->h] != i)
			return "entity heap position disagrees with its slot";
		if (i > 0 && slot_less(&v[i], &v[(i - 1) / HEAP_D]))
			return "heap order broken";
		switch (h) {
		case H_READY:
			if (e->state != SCHED_READY)
				return "ready heap holds a non-READY entity";
			if (v[i].key != eff_vt(e))
				return "ready heap key is not E";
			break;
		case H_RUNNABLE:
			if (e->state != SCHED_READY && e->state != SCHED_RUNNING)
				return "runnable heap holds a non-runnable entity";
			if (v[i].key != e->avt)
				return "runnable heap key is not A";
			if (vt_diff(e->avt, s->svt -
			                        allow_vt(s, e->p.cpu_weight)) < 0)
				return "runnable entity more than C below SVT "
				       "(banked credit)";
			if (e->state == SCHED_READY && !in_heap(s, H_READY, e))
				return "READY entity missing from ready heap";
			break;
		case H_THROTTLE:
			if (e->state != SCHED_THROTTLED)
				return "throttle heap holds a non-THROTTLED entity";
			if (v[i].key != e->release_at)
				return "throttle heap key is not release time";
			if (in_heap(s, H_READY, e) || in_heap(s, H_RUNNABLE, e))
				return "THROTTLED entity in a run heap";
			break;
		}
		if (e->avt_rem >= e->p.cpu_weight)
			return "virtual time remainder not below weight";
		if (e->warped && (!e->warp_vt ||
		                  e->warp_used_ns >= e->warp_limit_ns))
			return "warped beyond its limit";
		if (e->cap_tokens_max &&
		    e->cap_tokens > (int64_t)e->cap_tokens_max)
			return "cap bucket above capacity";
	}
	return 0;
}

const char *sched_check(const struct sched *s)
{
	const char *why;
	if ((why = check_heap(s, H_READY)) || (why = check_heap(s, H_RUNNABLE)) ||
	    (why = check_heap(s, H_THROTTLE)))
		return why;
	if (s->n_heap[H_RUNNABLE] != s->n_heap[H_READY] + (s->cur ? 1u : 0u))
		return "runnable count != ready + running";
	if (s->n_heap[H_RUNNABLE] + s->n_heap[H_THROTTLE] > s->n_entities)
		return "more queued entities than registered";
	if (s->n_entities + s->n_free != s->cap)
		return "handle accounting broken";
	if (s->cur) {
		if (s->cur->state != SCHED_RUNNING)
			return "current entity not RUNNING";
		if (in_heap(s, H_READY, s->cur) ||
		    !in_heap(s, H_RUNNABLE, s->cur))
			return "current entity in the wrong heaps";
	}
	if (s->last < s->start)
		return "clock before start";
	if (s->busy_ns + s->idle_ns != s->last - s->start)
		return "busy + idle != elapsed time";
	return 0;
}
