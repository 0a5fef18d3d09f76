/*
 * Borrowed-virtual-time scheduler.
 *
 * Every runnable entity has an actual virtual time A that advances by
 * t * SCALE / weight while it runs, and an effective virtual time
 * E = A - (warped ? W : 0). The eligible entity with the lowest E runs.
 *
 * Decisions. The running entity keeps the CPU until some waiting entity's E
 * is lower than its own by more than the context-switch allowance C,
 * expressed in its own virtual time (C * SCALE / weight): the slice returned
 * by sched_pick() is exactly the time until that happens. A woken entity is
 * exempt from C: it preempts at once if its E is strictly below the E of
 * every runnable entity (the running one charged up to the wake). Because a
 * waking entity gets A = max(A, SVT), where SVT is the least A of all
 * runnable entities, an unwarped sleeper can at best tie; only a warped one
 * (E = A - W) jumps the queue, which is what warp is for. Ties go to whoever
 * was queued first (FIFO by sequence number), and to the running entity.
 *
 * Data structures, all in caller-owned arrays:
 *   ready     4-ary min-heap on E of READY entities      pick: O(log n)
 *   runnable  min-heap on A of READY + RUNNING entities  SVT:  O(1)
 *   throttle  min-heap on release time of THROTTLED      next release: O(1)
 * Keys are copied into 16-byte slots and positions kept in per-heap arrays
 * indexed by a dense handle, so sifting never touches an entity.
 *
 * States (see enum sched_state):
 *
 *            wake                  pick             cap exhausted
 *   BLOCKED ------> READY <-------------> RUNNING ---------------> THROTTLED
 *      ^              |  \___________________________________________/ |
 *      |    block     |        release (pick, at release_at)           |
 *      +--------------+------------------------------------------------+
 *
 * Invariants (verified by sched_check()):
 *   1. Each heap is ordered, and every slot's entity records that slot's
 *      index; an entity is in exactly the heaps its state names.
 *   2. n_runnable == n_ready + (cur != NULL).
 *   3. svt never decreases, and every runnable entity's A is >= svt - C
 *      (in its virtual time; >= svt for woken sleepers), so nobody banks
 *      virtual time by sleeping or being throttled.
 *   4. charged_ns + idle_ns == last - start: all time is accounted once.
 *   5. avt_rem < weight: no rounding loss is ever dropped, only carried.
 *
 * Virtual times are compared with wrap-safe signed differences. Differences
 * between runnable entities are bounded by W, C and the clamp; the stored
 * SVT is refreshed at every decision; and an entity returning from a block
 * or a throttle is compared through SVT's advance since it left (see
 * vt_clamp), so no comparison spans more than 2^63.
 */
#include "sched_internal.h"

#include "fs_assert.h"
#include "fs_errors.h"

#define CENTI 100 /* cap tokens are centi-ns: refill pct/ns, spend 100/ns */

#ifdef FS_DEBUG
#define CHECK(s) FS_ASSERT(sched_check(s) == 0)
#else
#define CHECK(s) ((void)0)
#endif

/* ---- heaps --------------------------------------------------------------- */


static inline void heap_place(struct sched_slot *v, uint32_t *pos, uint32_t i,
                              struct sched_slot x)
{
	v[i] = x;
	pos[x.h] = i;
}


static void sift_up(struct sched_slot *v, uint32_t *pos, uint32_t i)
{
	struct sched_slot x = v[i];
	while (i > 0) {
		uint32_t p = (i - 1) / HEAP_D;
		if (!slot_less(&x, &v[p]))
			break;
		heap_place(v, pos, i, v[p]);
		i = p;
	}
	heap_place(v, pos, i, x);
}

static void sift_down(struct sched_slot *v, uint32_t *pos, uint32_t n,
                      uint32_t i)
{
	struct sched_slot x = v[i];
	for (;;) {
		uint32_t c = HEAP_D * i + 1;
		if (c >= n)
			break;
		uint32_t end = c + HEAP_D < n ? c + HEAP_D : n, m = c;
		for (uint32_t k = c + 1; k < end; k++)
			if (slot_less(&v[k], &v[m]))
				m = k;
		if (!slot_less(&v[m], &x))
			break;
		heap_place(v, pos, i, v[m]);
		i = m;
	}
	heap_place(v, pos, i, x);
}

static void heap_insert(struct sched *s, enum heap_id h, struct sched_entity *e,
                        uint64_t key)
{
	struct sched_slot *v = s->heap[h];
	uint32_t n = s->n_heap[h]++;
	FS_BUG_ON(n >= s->cap || in_heap(s, h, e));
	v[n] = (struct sched_slot){ .key = key, .seq = e->seq, .h = e->h };
	s->pos[h][e->h] = n;
	sift_up(v, s->pos[h], n);
}

static void heap_remove(struct sched *s, enum heap_id h, struct sched_entity *e)
{
	struct sched_slot *v = s->heap[h];
	uint32_t *pos = s->pos[h];
	uint32_t i = pos[e->h];
	FS_BUG_ON(i >= s->n_heap[h] || v[i].h != e->h);
	pos[e->h] = NO_IDX;
	uint32_t n = --s->n_heap[h];
	if (i == n)
		return;
	struct sched_slot last = v[n];
	bool up = slot_less(&last, &v[i]);
	heap_place(v, pos, i, last);
	if (up)
		sift_up(v, pos, i);
	else
		sift_down(v, pos, n, i);
}

/* Re-key an entity already in heap h. */
static void heap_rekey(struct sched *s, enum heap_id h, struct sched_entity *e,
                       uint64_t key)
{
	struct sched_slot *v = s->heap[h];
	uint32_t i = s->pos[h][e->h];
	FS_BUG_ON(i >= s->n_heap[h]);
	bool up = vt_diff(key, v[i].key) < 0;
	v[i].key = key;
	v[i].seq = e->seq;
	if (up)
		sift_up(v, s->pos[h], i);
	else
		sift_down(v, s->pos[h], s->n_heap[h], i);
}

static struct sched_entity *heap_top(const struct sched *s, enum heap_id h)
{
	return s->n_heap[h] ? s->ents[s->heap[h][0].h] : 0;
}

/* ---- parameters ---------------------------------------------------------- */

void sched_params_default(struct sched_params *p)
{
	*p = (struct sched_params){ .cpu_weight = SCHED_WEIGHT_DEFAULT };
}

int sched_params_check(const struct sched_params *p)
{
	if (p->cpu_weight < SCHED_WEIGHT_MIN || p->cpu_weight > SCHED_WEIGHT_MAX)
		return FS_ERANGE;
	if (p->cpu_cap_pct > 100)
		return FS_ERANGE;
	if (p->warp_us > SCHED_TIME_PARAM_MAX_US ||
	    p->warp_limit_us > SCHED_TIME_PARAM_MAX_US ||
	    p->unwarp_us > SCHED_TIME_PARAM_MAX_US)
		return FS_ERANGE;
	return FS_OK;
}

int sched_config_check(const struct sched_config *cfg)
{
	return cfg->ctx_allow_us > SCHED_TIME_PARAM_MAX_US ? FS_ERANGE : FS_OK;
}

static void derive_params(struct sched_entity *e)
{
	/* warp_us is CPU time the entity may run ahead of its share: in its
	 * virtual time that is warp_us * SCALE / weight (exact at weight 256,
	 * and bounded in real time at any weight). */
	e->warp_vt = (e->p.warp_us * NS_PER_US << SCHED_VT_SCALE_SHIFT) /
	             e->p.cpu_weight;
	e->warp_limit_ns = e->p.warp_limit_us ? e->p.warp_limit_us * NS_PER_US
	                                      : UINT64_MAX;
	e->unwarp_ns = e->p.unwarp_us * NS_PER_US;
	bool capped = e->p.cpu_cap_pct > 0 && e->p.cpu_cap_pct < 100;
	e->cap_tokens_max = capped ? (uint64_t)e->p.cpu_cap_pct *
	                                     SCHED_CAP_PERIOD_NS
	                           : 0;
}

/* ---- time and charging --------------------------------------------------- */

/* A += t * SCALE / weight, carrying the remainder: over any sequence of
 * charges, A advances by exactly floor(total * SCALE / weight). t must be
 * at most VT_CHUNK_NS (keeps t * SCALE + rem in 64 bits, and the advance
 * below 2^56, far inside the wrap-safe range). */
#define VT_CHUNK_NS (1ull << 48)
static void vt_advance(struct sched_entity *e, uint64_t t)
{
	uint64_t num = (t << SCHED_VT_SCALE_SHIFT) + e->avt_rem;
	e->avt += num / e->p.cpu_weight;
	e->avt_rem = (uint32_t)(num % e->p.cpu_weight);
}

static void svt_update(struct sched *s);

/* Bring an uncapped-or-not entity's cap bucket up to `now` (lazy refill). */
static void cap_refill(struct sched_entity *e, ns_t now)
{
	if (!e->cap_tokens_max) {
		e->cap_stamp = now;
		return;
	}
	uint64_t dt = now - e->cap_stamp;
	e->cap_stamp = now;
	/* After 2 s, refill at >= 1% brings >= 2e9 centi-ns (20 ms of CPU):
	 * more than any capacity (<= 10 ms) plus any debt (one slice overrun
	 * by the caller's timer, far below that). Clamp directly, which also
	 * keeps dt * pct in range. */
	if (dt >= 2 * SCHED_CAP_PERIOD_NS * CENTI) {
		e->cap_tokens = (int64_t)e->cap_tokens_max;
		return;
	}
	int64_t t = e->cap_tokens + (int64_t)(dt * e->p.cpu_cap_pct);
	if (t > (int64_t)e->cap_tokens_max)
		t = (int64_t)e->cap_tokens_max;
	e->cap_tokens = t;
}

static uint64_t div_ceil(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* When a throttled entity becomes eligible: its bucket holds half a
 * period's worth again. */
static ns_t cap_release_time(const struct sched_entity *e, ns_t now)
{
	int64_t need = (int64_t)(e->cap_tokens_max / 2) - e->cap_tokens;
	if (need <= 0)
		return now;
	return now + div_ceil((uint64_t)need, e->p.cpu_cap_pct);
}

void sched_charge(struct sched *s, ns_t now)
{
	FS_BUG_ON(now < s->last); /* the clock never goes backwards */
	uint64_t dt = now - s->last;
	s->last = now;
	struct sched_entity *e = s->cur;
	if (!e) {
		s->idle_ns += dt;
		return;
	}
	if (dt == 0)
		return;
	e->c.cpu_ns += dt;
	s->busy_ns += dt;
	if (e->warped) {
		e->c.warped_ns += dt;
		e->warp_used_ns += dt;
		if (e->warp_used_ns >= e->warp_limit_ns) {
			e->warped = false;
			e->warp_ready_at = now + e->unwarp_ns;
		}
	}
	/* A charge longer than 2^48 ns (a lone guest needing no timer for
	 * days) moves A in steps, with SVT following each, so no comparison
	 * ever spans 2^63. */
	for (uint64_t left = dt; left > 0;) {
		uint64_t part = left < VT_CHUNK_NS ? left : VT_CHUNK_NS;
		vt_advance(e, part);
		heap_rekey(s, H_RUNNABLE, e, e->avt);
		svt_update(s);
		left -= part;
	}
	if (e->cap_tokens_max) {
		FS_ASSERT(e->cap_stamp == now - dt);
		/* While running the bucket drains at (100 - pct) centi-ns per
		 * ns; it cannot reach its capacity, so no clamp is lost. */
		e->cap_tokens -= (int64_t)(dt * (CENTI - e->p.cpu_cap_pct));
		e->cap_stamp = now;
	}
}

/* ---- state transitions ---------------------------------------------------- */

static void fold_since(struct sched_entity *e, ns_t now)
{
	if (e->state == SCHED_READY)
		e->c.ready_ns += now - e->since;
	else if (e->state == SCHED_THROTTLED)
		e->c.cap_throttled_ns += now - e->since;
	e->since = now;
}

uint64_t sched_svt(const struct sched *s)
{
	struct sched_entity *top = heap_top(s, H_RUNNABLE);
	if (top && vt_diff(top->avt, s->svt) > 0)
		return top->avt;
	return s->svt;
}

/* Keep the stored SVT current. It only grows, and it is refreshed at every
 * decision, so it never falls 2^63 behind the runnable entities. */
static void svt_update(struct sched *s)
{
	s->svt = sched_svt(s);
}

/* Leaving the runnable set (block, throttle): remember SVT, so the way back
 * in can tell how far SVT moved meanwhile without a wrap-safe comparison
 * across an unbounded sleep. */
static void leave_runnable(struct sched *s, struct sched_entity *e)
{
	svt_update(s);
	e->svt_mark = s->svt;
}

/* Keep A >= SVT - lag. Called when an entity (re)joins the runnable set and
 * when its weight or C changes (lag is one allowance in its virtual time).
 * For an entity that was away, SVT's advance since it left is an unsigned
 * difference of two SVT values, exact for 2^64 virtual ns (834 days of a
 * weight-1 domain running alone); its lead over SVT when it left is small
 * and signed. */
static bool vt_clamp(struct sched *s, struct sched_entity *e, uint64_t lag,
                     bool was_away)
{
	uint64_t floor_vt = s->svt - lag;
	bool below;
	if (was_away) {
		/* A < SVT - lag  <=>  lead + lag < moved */
		int64_t slack = vt_diff(e->avt, e->svt_mark) + (int64_t)lag;
		uint64_t moved = s->svt - e->svt_mark;
		below = slack < 0 || moved > (uint64_t)slack;
	} else {
		below = vt_diff(e->avt, floor_vt) < 0;
	}
	if (!below)
		return false;
	e->avt = floor_vt;
	e->avt_rem = 0;
	return true;
}

/* Entering the runnable set: FIFO position among equals, into both
 * virtual-time heaps, and no banked credit. A voluntary sleeper gets
 * A = max(A, SVT) (lag 0). An entity released from its cap was held back
 * involuntarily and keeps up to one context-switch allowance of lag
 * (lag = C in its virtual time), so it is not queued behind every entity
 * tied at SVT while its bucket overflows, yet can never bank more: lifting
 * the cap later costs the others at most C. */
static void make_ready(struct sched *s, struct sched_entity *e, ns_t now,
                       uint64_t lag)
{
	svt_update(s);
	vt_clamp(s, e, lag, true);
	e->state = SCHED_READY;
	e->since = now;
	e->seq = s->seq++;
	heap_insert(s, H_READY, e, eff_vt(e));
	heap_insert(s, H_RUNNABLE, e, e->avt);
}

static void throttle(struct sched *s, struct sched_entity *e, ns_t now)
{
	leave_runnable(s, e);
	e->state = SCHED_THROTTLED;
	e->since = now;
	e->release_at = cap_release_time(e, now);
	heap_insert(s, H_THROTTLE, e, e->release_at);
}

static void end_warp(struct sched_entity *e, ns_t now)
{
	if (e->warped) {
		e->warped = false;
		e->warp_ready_at = now + e->unwarp_ns;
	}
}

/* ---- public API ------------------------------------------------------------ */

size_t sched_mem_size(uint32_t cap)
{
	return (size_t)cap * (3 * sizeof(struct sched_slot) +
	                      3 * sizeof(uint32_t) +
	                      sizeof(struct sched_entity *) + sizeof(uint32_t));
}

int sched_init(struct sched *s, const struct sched_config *cfg, void *mem,
               size_t mem_len, uint32_t cap, ns_t now)
{
	if (sched_config_check(cfg) || !mem || ((uintptr_t)mem & 7) ||
	    cap == 0 || cap >= NO_IDX || mem_len < sched_mem_size(cap))
		return FS_EINVAL;
	*s = (struct sched){
		.cfg = *cfg,
		.ctx_allow_ns = cfg->ctx_allow_us * NS_PER_US,
		.cap = cap,
		.start = now,
		.last = now,
	};
	/* 8-byte items first, then the 4-byte arrays: all stay aligned. */
	char *p = mem;
	for (int h = 0; h < 3; h++) {
		s->heap[h] = (struct sched_slot *)(void *)p;
		p += (size_t)cap * sizeof(struct sched_slot);
	}
	s->ents = (struct sched_entity **)(void *)p;
	p += (size_t)cap * sizeof(struct sched_entity *);
	for (int h = 0; h < 3; h++) {
		s->pos[h] = (uint32_t *)(void *)p;
		p += (size_t)cap * sizeof(uint32_t);
	}
	s->free_h = (uint32_t *)(void *)p;
	for (uint32_t i = 0; i < cap; i++) {
		s->pos[0][i] = s->pos[1][i] = s->pos[2][i] = NO_IDX;
		s->ents[i] = 0;
		s->free_h[i] = cap - 1 - i;
	}
	s->n_free = cap;
	CHECK(s);
	return FS_OK;
}

int sched_set_config(struct sched *s, const struct sched_config *cfg, ns_t now)
{
	int rc = sched_config_check(cfg);
	if (rc)
		return rc;
	sched_charge(s, now);
	s->cfg = *cfg;
	s->ctx_allow_ns = cfg->ctx_allow_us * NS_PER_US;
	/* A smaller C shrinks everyone's allowed lag: re-clamp every runnable
	 * entity. Walks the handle table, which re-keying does not reorder:
	 * O(n log n), and C changes only by operator action. */
	svt_update(s);
	for (uint32_t h = 0; h < s->cap; h++) {
		struct sched_entity *e = s->ents[h];
		if (!e || (e->state != SCHED_READY && e->state != SCHED_RUNNING))
			continue;
		if (!vt_clamp(s, e, allow_vt(s, e->p.cpu_weight), false))
			continue;
		heap_rekey(s, H_RUNNABLE, e, e->avt);
		if (e->state == SCHED_READY)
			heap_rekey(s, H_READY, e, eff_vt(e));
	}
	CHECK(s);
	return FS_OK;
}

int sched_add(struct sched *s, struct sched_entity *e, domid_t id,
              const struct sched_params *p, ns_t now)
{
	int rc = sched_params_check(p);
	if (rc)
		return rc;
	if (s->n_free == 0)
		return FS_ENOMEM;
	sched_charge(s, now);
	*e = (struct sched_entity){
		.id = id,
		.state = SCHED_BLOCKED,
		.p = *p,
		.avt = sched_svt(s),
		.svt_mark = sched_svt(s),
		.warp_ready_at = now,
		.cap_stamp = now,
		.h = s->free_h[--s->n_free],
	};
	s->ents[e->h] = e;
	derive_params(e);
	e->cap_tokens = (int64_t)e->cap_tokens_max;
	s->n_entities++;
	CHECK(s);
	return FS_OK;
}

void sched_block(struct sched *s, struct sched_entity *e, ns_t now)
{
	if (e->state == SCHED_BLOCKED)
		return;
	sched_charge(s, now);
	fold_since(e, now);
	switch (e->state) {
	case SCHED_READY:
		heap_remove(s, H_READY, e);
		heap_remove(s, H_RUNNABLE, e);
		leave_runnable(s, e);
		break;
	case SCHED_RUNNING:
		heap_remove(s, H_RUNNABLE, e);
		leave_runnable(s, e);
		s->cur = 0;
		break;
	case SCHED_THROTTLED:
		heap_remove(s, H_THROTTLE, e);
		break;
	case SCHED_BLOCKED:
		break;
	}
	cap_refill(e, now);
	end_warp(e, now);
	e->state = SCHED_BLOCKED;
	if (s->preempt == e)
		s->preempt = 0;
	if (s->yielded == e)
		s->yielded = 0;
	CHECK(s);
}

void sched_remove(struct sched *s, struct sched_entity *e, ns_t now)
{
	sched_block(s, e, now);
	FS_BUG_ON(s->n_entities == 0 || s->ents[e->h] != e);
	s->n_entities--;
	s->ents[e->h] = 0;
	s->free_h[s->n_free++] = e->h;
	CHECK(s);
}

bool sched_wake(struct sched *s, struct sched_entity *e, ns_t now)
{
	if (e->state != SCHED_BLOCKED)
		return false;
	sched_charge(s, now);
	e->c.wakeups++;
	if (e->warp_vt && now >= e->warp_ready_at) {
		e->warped = true;
		e->warp_used_ns = 0;
	}
	cap_refill(e, now);
	/* A capped entity comes back only with half a period's worth, as
	 * after a throttle, or it could wake into nanosecond slivers. */
	if (e->cap_tokens_max &&
	    e->cap_tokens < (int64_t)(e->cap_tokens_max / 2)) {
		throttle(s, e, now);
		CHECK(s);
		return false;
	}
	make_ready(s, e, now, 0);
	/* Exempt from C: preempt iff strictly first in E order. */
	uint64_t ev = eff_vt(e);
	bool first = true;
	if (s->cur && vt_diff(ev, eff_vt(s->cur)) >= 0)
		first = false;
	/* e has the newest sequence number, so it heads the ready heap only
	 * if its E is strictly below every other waiting entity's. */
	if (heap_top(s, H_READY) != e)
		first = false;
	if (first)
		s->preempt = e;
	CHECK(s);
	return first;
}

void sched_yield_slice(struct sched *s, struct sched_entity *e, ns_t now)
{
	if (e->state != SCHED_RUNNING || s->cur != e)
		return;
	sched_charge(s, now);
	s->yielded = e;
}

int sched_set_params(struct sched *s, struct sched_entity *e,
                     const struct sched_params *p, ns_t now)
{
	int rc = sched_params_check(p);
	if (rc)
		return rc;
	sched_charge(s, now);
	cap_refill(e, now);
	uint32_t old_w = e->p.cpu_weight;
	bool was_capped = e->cap_tokens_max != 0;
	e->p = *p;
	derive_params(e);
	/* Keep the carried fraction of a virtual ns proportional; at most one
	 * virtual ns is lost, once, per weight change. */
	e->avt_rem = (uint32_t)((uint64_t)e->avt_rem * p->cpu_weight / old_w);
	if (e->warped && (!e->warp_vt || e->warp_used_ns >= e->warp_limit_ns))
		end_warp(e, now);
	if (!e->cap_tokens_max)
		e->cap_tokens = 0;
	else if (!was_capped || e->cap_tokens > (int64_t)e->cap_tokens_max)
		e->cap_tokens = (int64_t)e->cap_tokens_max;

	/* A heavier weight shrinks the allowance in virtual time: re-clamp so
	 * the entity is never more than one (new) allowance below SVT, or a
	 * lagging entity given a big weight would run for hundreds of ms. */
	if (e->state == SCHED_READY || e->state == SCHED_RUNNING) {
		svt_update(s);
		if (vt_clamp(s, e, allow_vt(s, p->cpu_weight), false))
			heap_rekey(s, H_RUNNABLE, e, e->avt);
	}
	if (e->state == SCHED_READY) {
		heap_rekey(s, H_READY, e, eff_vt(e));
	} else if (e->state == SCHED_THROTTLED) {
		if (!e->cap_tokens_max) {
			fold_since(e, now);
			heap_remove(s, H_THROTTLE, e);
			make_ready(s, e, now, allow_vt(s, e->p.cpu_weight));
		} else {
			e->release_at = cap_release_time(e, now);
			heap_rekey(s, H_THROTTLE, e, e->release_at);
		}
	}
	CHECK(s);
	return FS_OK;
}

/* Real ns the running entity may run before a waiting entity with
 * effective virtual time `other` is owed the CPU: the least t for which
 * E(cur) after t exceeds other + C (in cur's virtual time). */
static uint64_t slice_vs(const struct sched *s, const struct sched_entity *c,
                         uint64_t other)
{
	uint64_t target = other + allow_vt(s, c->p.cpu_weight) + 1;
	int64_t dv = vt_diff(target, eff_vt(c));
	if (dv <= 0)
		return 1;
	/* least t with (t * SCALE + rem) / w >= dv */
	unsigned __int128 need =
		(unsigned __int128)(uint64_t)dv * c->p.cpu_weight - c->avt_rem;
	need = (need + SCHED_VT_SCALE - 1) >> SCHED_VT_SCALE_SHIFT;
	return need >= SCHED_SLICE_INF ? SCHED_SLICE_INF - 1 : (uint64_t)need;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

struct sched_entity *sched_pick(struct sched *s, ns_t now, uint64_t *slice_ns)
{
	sched_charge(s, now);
	s->decisions++;

	/* Entities whose cap bucket has refilled enough compete again. */
	struct sched_entity *t;
	while ((t = heap_top(s, H_THROTTLE)) && t->release_at <= now) {
		fold_since(t, now);
		heap_remove(s, H_THROTTLE, t);
		cap_refill(t, now);
		make_ready(s, t, now, allow_vt(s, t->p.cpu_weight));
	}

	struct sched_entity *c = s->cur;
	if (c && c->cap_tokens_max && c->cap_tokens <= 0) {
		heap_remove(s, H_RUNNABLE, c);
		throttle(s, c, now);
		s->cur = c = 0;
	}
	struct sched_entity *top = heap_top(s, H_READY);
	struct sched_entity *next = c;
	if (!c) {
		next = top;
	} else if (top) {
		int64_t d = vt_diff(eff_vt(c), eff_vt(top));
		/* the woken entity's exemption from C holds only while it
		 * still heads the queue */
		if (s->yielded == c ? d >= 0
		    : s->preempt == top
		        ? d > 0
		        : d > (int64_t)allow_vt(s, c->p.cpu_weight))
			next = top;
	}
	s->preempt = 0;
	s->yielded = 0;

	if (next != c) {
		if (c) {
			c->state = SCHED_READY;
			c->since = now;
			c->seq = s->seq++;
			heap_insert(s, H_READY, c, eff_vt(c));
		}
		if (next) {
			fold_since(next, now);
			cap_refill(next, now); /* refill earned while waiting */
			heap_remove(s, H_READY, next);
			next->state = SCHED_RUNNING;
			next->c.dispatches++;
		}
		s->cur = next;
	}

	svt_update(s);
	uint64_t slice = SCHED_SLICE_INF;
	if (next) {
		top = heap_top(s, H_READY);
		if (top)
			slice = slice_vs(s, next, eff_vt(top));
		if (next->warped && next->warp_limit_ns != UINT64_MAX)
			slice = min_u64(slice,
			                next->warp_limit_ns - next->warp_used_ns);
		if (next->cap_tokens_max)
			slice = min_u64(slice,
			                div_ceil((uint64_t)next->cap_tokens,
			                         CENTI - next->p.cpu_cap_pct));
	}
	if ((t = heap_top(s, H_THROTTLE)))
		slice = min_u64(slice, t->release_at - now);
	*slice_ns = slice ? slice : 1;
	CHECK(s);
	return next;
}

void sched_counters(const struct sched *s, const struct sched_entity *e,
                    ns_t now, struct sched_counters *out)
{
	*out = e->c;
	if (e->state == SCHED_READY)
		out->ready_ns += now - e->since;
	else if (e->state == SCHED_THROTTLED)
		out->cap_throttled_ns += now - e->since;
	else if (e->state == SCHED_RUNNING && now > s->last) {
		out->cpu_ns += now - s->last;
		if (e->warped)
			out->warped_ns += now - s->last;
	}
}

uint64_t sched_idle_ns(const struct sched *s)
{
	return s->idle_ns;
}

uint64_t sched_decisions(const struct sched *s)
{
	return s->decisions;
}

struct sched_entity *sched_current(const struct sched *s)
{
	return s->cur;
}

uint32_t sched_nr_runnable(const struct sched *s)
{
	return s->n_heap[H_RUNNABLE] + s->n_heap[H_THROTTLE];
}

