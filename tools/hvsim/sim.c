/*
 * hvsim engine; see sim.h for the model.
 *
 * Per domain the engine tracks the CPU its workload still needs before it
 * blocks (`demand_ns`, infinite for `cpu`) and one timer: the next period
 * start of a `periodic` domain, or the wake-up of a blocked `onoff` domain.
 * Timers sit in a binary min-heap so a decision costs O(log n) here too and
 * the simulator scales with the scheduler.
 *
 * An `io` domain still has one timer: the earliest of its pending I/O events
 * (next disk completion, the bucket's retry time for its queue head), as
 * io_next_event() reports it, re-keyed after every change (th_set). Its
 * demand_ns is the CPU left to issue its next request; when that runs out
 * the request is issued and the domain goes on with the next free slot or,
 * with none left, blocks until a completion frees one.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_io.h"
#include "fs_errors.h"

#define INF UINT64_MAX
#define NONE UINT64_MAX

struct dom_rt {
	struct sched_entity ent;
	bool active;       /* added and not removed (serve mode: destroy) */
	bool paused;       /* serve mode: held off the CPU by the controller */
	uint64_t hypercalls; /* blocks and I/O submissions: one each */
	struct usage_counters mem; /* mem_pages, mem_page_ns only */
	ns_t mem_stamp;
	struct usage_counters final; /* usage at removal, once !active */
	uint64_t demand_ns;
	uint64_t woke_at;  /* pending wake awaiting first dispatch, or NONE */
	uint64_t timer_at; /* NONE when no timer is armed */
	uint32_t tidx;
	uint64_t *lat;
	size_t nlat, caplat;
	struct io_rt io; /* workload io only */
};

struct sim {
	const struct scenario *sc;
	const struct sim_opts *o;
	struct sched s;
	void *smem;
	struct dom_rt *d;
	size_t n, cap; /* domains added so far (indices 0..n-1), room */
	uint64_t decisions;
	uint32_t *th; /* timer heap of domain indices, keyed by timer_at */
	size_t tn;
	uint64_t now;
};

/* ---- timer heap ------------------------------------------------------------ */

static void th_swap(struct sim *m, size_t a, size_t b)
{
	uint32_t t = m->th[a];
	m->th[a] = m->th[b];
	m->th[b] = t;
	m->d[m->th[a]].tidx = (uint32_t)a;
	m->d[m->th[b]].tidx = (uint32_t)b;
}

static bool th_less(const struct sim *m, size_t a, size_t b)
{
	uint64_t ta = m->d[m->th[a]].timer_at, tb = m->d[m->th[b]].timer_at;
	return ta < tb || (ta == tb && m->th[a] < m->th[b]);
}

static void th_sift_up(struct sim *m, size_t k)
{
	while (k > 0 && th_less(m, k, (k - 1) / 2)) {
		th_swap(m, k, (k - 1) / 2);
		k = (k - 1) / 2;
	}
}

static void th_sift_down(struct sim *m, size_t k)
{
	for (;;) {
		size_t c = 2 * k + 1;
		if (c >= m->tn)
			break;
		if (c + 1 < m->tn && th_less(m, c + 1, c))
			c++;
		if (!th_less(m, c, k))
			break;
		th_swap(m, k, c);
		k = c;
	}
}

static void th_push(struct sim *m, uint32_t i, uint64_t at)
{
	m->d[i].timer_at = at;
	size_t k = m->tn++;
	m->th[k] = i;
	m->d[i].tidx = (uint32_t)k;
	th_sift_up(m, k);
}

static uint32_t th_pop(struct sim *m)
{
	uint32_t top = m->th[0];
	m->d[top].timer_at = NONE;
	th_swap(m, 0, --m->tn);
	th_sift_down(m, 0);
	return top;
}

/* Re-arm domain i's timer at `at` (NONE: disarm), wherever it was. */
static void th_set(struct sim *m, uint32_t i, uint64_t at)
{
	struct dom_rt *d = &m->d[i];
	if (d->timer_at != NONE) {
		size_t k = d->tidx;
		d->timer_at = NONE;
		th_swap(m, k, --m->tn);
		if (k < m->tn) {
			/* At most one of these moves anything: if the
			 * moved entry rises, the parent that takes its
			 * place is below everything under k. */
			th_sift_up(m, k);
			th_sift_down(m, k);
		}
	}
	if (at != NONE)
		th_push(m, i, at);
}

/* ---- workload events ------------------------------------------------------- */

static void wake(struct sim *m, uint32_t i)
{
	struct dom_rt *d = &m->d[i];
	/* A paused domain stays off the CPU; sim_unpause() wakes it if it
	 * wants the CPU by then. */
	if (d->paused)
		return;
	/* Wake latency is a property of domains that block; an always
	 * runnable domain's first dispatch is not a latency. */
	if (d->ent.state == SCHED_BLOCKED && m->sc->doms[i].wl != WL_CPU)
		d->woke_at = m->now;
	sched_wake(&m->s, &d->ent, m->now);
}

/* An io domain's I/O state changed at m->now: re-arm its timer, and wake it
 * if a completion gave it a request to issue while it was blocked. */
static void io_changed(struct sim *m, uint32_t i)
{
	struct dom_rt *d = &m->d[i];
	if (d->ent.state == SCHED_BLOCKED && io_wants_cpu(&d->io)) {
		d->demand_ns = d->io.cpu_ns;
		wake(m, i);
	}
	th_set(m, i, io_next_event(&d->io));
}

static void on_timer(struct sim *m, uint32_t i)
{
	const struct scn_domain *sd = &m->sc->doms[i];
	struct dom_rt *d = &m->d[i];
	switch (sd->wl) {
	case WL_PERIODIC:
		d->demand_ns += sd->burst_us * NS_PER_US;
		th_push(m, i, m->now + sd->period_us * NS_PER_US);
		wake(m, i);
		break;
	case WL_ONOFF:
		d->demand_ns = sd->on_us * NS_PER_US;
		wake(m, i);
		break;
	case WL_IO:
		io_advance(&d->io, m->now);
		io_changed(m, i);
		break;
	case WL_CPU:
		break;
	}
}

/* The running domain used all the CPU it needed: it blocks. */
static void on_done(struct sim *m, uint32_t i)
{
	const struct scn_domain *sd = &m->sc->doms[i];
	struct dom_rt *d = &m->d[i];
	d->hypercalls++; /* the block, or the request's submission */
	if (sd->wl == WL_IO) {
		/* The CPU work for one request is done: issue it, then go on
		 * with the next free slot or block until one frees up. */
		io_submit(&d->io, m->now);
		if (io_wants_cpu(&d->io))
			d->demand_ns = d->io.cpu_ns;
		else
			sched_block(&m->s, &d->ent, m->now);
		io_changed(m, i);
		return;
	}
	sched_block(&m->s, &d->ent, m->now);
	if (sd->wl == WL_ONOFF)
		th_push(m, i, m->now + sd->off_us * NS_PER_US);
}

static int record_latency(struct dom_rt *d, uint64_t lat)
{
	if (d->nlat == d->caplat) {
		size_t nc = d->caplat ? d->caplat * 2 : 64;
		uint64_t *nl = realloc(d->lat, nc * sizeof(*nl));
		if (!nl)
			return -1;
		d->lat = nl;
		d->caplat = nc;
	}
	d->lat[d->nlat++] = lat;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t pct(const uint64_t *v, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

/* ---- main loop --------------------------------------------------------------- */

static void sim_free(struct sim *m)
{
	if (m->d)
		for (size_t i = 0; i < m->cap; i++) {
			free(m->d[i].lat);
			io_free(&m->d[i].io);
		}
	free(m->d);
	free(m->smem);
	free(m->th);
}

static int run(struct sim *m, uint64_t end)
{
	for (;;) {
		uint64_t slice;
		struct sched_entity *e = sched_pick(&m->s, m->now, &slice);
		m->decisions++;
		int cur = e ? (int)(e->id - 1) : -1;
		if (m->o && m->o->check) {
			const char *why = sched_check(&m->s);
			if (why) {
				fprintf(stderr, "hvsim: sched_check failed at "
				                "%llu ns: %s\n",
				        (unsigned long long)m->now, why);
				return -1;
			}
		}
		if (m->o && m->o->on_decision)
			m->o->on_decision(m->o->ctx, m, m->now, cur);
		struct dom_rt *d = cur >= 0 ? &m->d[cur] : NULL;
		if (d && d->woke_at != NONE) {
			if (!(m->o && m->o->no_latency) &&
			    record_latency(d, m->now - d->woke_at))
				return -1;
			d->woke_at = NONE;
		}

		uint64_t t = end;
		if (slice != SCHED_SLICE_INF && slice < t - m->now)
			t = m->now + slice;
		if (m->tn && m->d[m->th[0]].timer_at < t)
			t = m->d[m->th[0]].timer_at;
		if (d && d->demand_ns != INF && d->demand_ns < t - m->now)
			t = m->now + d->demand_ns;
		if (d && d->demand_ns != INF)
			d->demand_ns -= t - m->now;
		m->now = t;
		if (m->now >= end) {
			sched_charge(&m->s, end);
			return 0;
		}
		if (d && d->demand_ns == 0)
			on_done(m, (uint32_t)cur);
		while (m->tn && m->d[m->th[0]].timer_at <= m->now)
			on_timer(m, th_pop(m));
	}
}

/* Register scenario domain i (already in sc->doms) with the scheduler and
 * start its workload at m->now. */
static int activate(struct sim *m, uint32_t i)
{
	const struct scn_domain *sd = &m->sc->doms[i];
	struct dom_rt *d = &m->d[i];
	d->woke_at = d->timer_at = NONE;
	d->mem_stamp = m->now;
	if (sched_add(&m->s, &d->ent, i + 1, &sd->sp, m->now))
		return -1;
	d->active = true;
	switch (sd->wl) {
	case WL_CPU:
		d->demand_ns = INF;
		wake(m, i);
		break;
	case WL_PERIODIC:
		th_push(m, i, m->now + sd->phase_us * NS_PER_US);
		break;
	case WL_ONOFF:
		d->demand_ns = sd->on_us * NS_PER_US;
		wake(m, i);
		break;
	case WL_IO:
		/* Starts with every slot free: runnable unless issuing
		 * costs no CPU (then all are issued now). io_init() works
		 * in the domain's own time, which starts at 0 here. */
		if (io_init(&d->io, sd, m->now))
			return -1;
		io_changed(m, i);
		break;
	}
	return 0;
}

struct sim *sim_open(const struct scenario *sc, const struct sim_opts *o,
                     size_t cap)
{
	if (cap < sc->n || cap >= UINT32_MAX)
		return NULL;
	struct sim *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	*m = (struct sim){ .sc = sc, .o = o, .cap = cap };
	uint32_t c = (uint32_t)(cap ? cap : 1);
	m->d = calloc(c, sizeof(*m->d));
	m->smem = malloc(sched_mem_size(c));
	m->th = calloc(c, sizeof(*m->th));
	if (!m->d || !m->smem || !m->th)
		goto fail;
	if (sched_init(&m->s, &sc->cfg, m->smem, sched_mem_size(c), c, 0))
		goto fail;
	for (uint32_t i = 0; i < sc->n; i++) {
		m->n = i + 1;
		if (activate(m, i))
			goto fail;
	}
	while (m->tn && m->d[m->th[0]].timer_at == 0)
		on_timer(m, th_pop(m));
	return m;
fail:
	sim_close(m);
	return NULL;
}

void sim_close(struct sim *m)
{
	if (!m)
		return;
	sim_free(m);
	free(m);
}

int sim_advance(struct sim *m, uint64_t until)
{
	if (until <= m->now)
		return 0;
	return run(m, until);
}

uint64_t sim_now(const struct sim *m)
{
	return m->now;
}

uint64_t sim_decisions(const struct sim *m)
{
	return m->decisions;
}

int sim_run(const struct scenario *sc, const struct sim_opts *o,
            struct sim_result *r)
{
	memset(r, 0, sizeof(*r));
	struct sim *m = sim_open(sc, o, sc->n);
	r->doms = calloc(sc->n ? sc->n : 1, sizeof(*r->doms));
	if (!m || !r->doms)
		goto fail;

	uint64_t end = sc->duration_ms * NS_PER_MS;
	if (run(m, end))
		goto fail;

	r->decisions = m->decisions;
	r->duration_ns = end;
	r->idle_ns = sched_idle_ns(&m->s);
	r->n = sc->n;
	for (size_t i = 0; i < sc->n; i++) {
		struct dom_rt *d = &m->d[i];
		sched_counters(&m->s, &d->ent, end, &r->doms[i].c);
		if (sc->doms[i].wl == WL_IO)
			io_result(&d->io, end, &r->doms[i].io);
		/* A wake still waiting at the end counts with what it has
		 * waited so far: a lower bound, never dropped. */
		if (d->woke_at != NONE && record_latency(d, end - d->woke_at))
			goto fail;
		if (d->nlat) {
			qsort(d->lat, d->nlat, sizeof(*d->lat), cmp_u64);
			r->doms[i].lat = (struct sim_latency){
				.n = d->nlat,
				.p50 = pct(d->lat, d->nlat, 50),
				.p99 = pct(d->lat, d->nlat, 99),
				.max = d->lat[d->nlat - 1],
			};
		}
	}
	sim_close(m);
	return 0;
fail:
	sim_close(m);
	sim_result_free(r);
	return -1;
}

/* ---- serve mode: domains added, removed, paused and changed live ---------- */

int sim_add_domain(struct sim *m)
{
	if (m->n >= m->cap || m->n >= m->sc->n)
		return -1;
	uint32_t i = (uint32_t)m->n++;
	if (activate(m, i)) {
		m->n--;
		return -1;
	}
	return (int)i;
}

void sim_remove_domain(struct sim *m, size_t i)
{
	struct dom_rt *d = &m->d[i];
	if (!d->active)
		return;
	sim_usage(m, i, &d->final);
	th_set(m, (uint32_t)i, NONE);
	sched_remove(&m->s, &d->ent, m->now);
	d->active = false;
}

bool sim_active(const struct sim *m, size_t i)
{
	return i < m->n && m->d[i].active;
}

bool sim_paused(const struct sim *m, size_t i)
{
	return m->d[i].paused;
}

/* Whether domain i has CPU work to do now (it would be runnable). */
static bool wants_cpu(const struct sim *m, uint32_t i)
{
	const struct dom_rt *d = &m->d[i];
	if (m->sc->doms[i].wl == WL_IO)
		return io_wants_cpu(&d->io);
	return d->demand_ns > 0;
}

int sim_pause(struct sim *m, size_t i)
{
	struct dom_rt *d = &m->d[i];
	if (!d->active)
		return FS_ENOENT;
	if (d->paused)
		return FS_EBUSY;
	d->paused = true;
	d->woke_at = NONE;
	sched_block(&m->s, &d->ent, m->now);
	return FS_OK;
}

int sim_unpause(struct sim *m, size_t i)
{
	struct dom_rt *d = &m->d[i];
	if (!d->active)
		return FS_ENOENT;
	if (!d->paused)
		return FS_EBUSY;
	d->paused = false;
	if (m->sc->doms[i].wl == WL_IO && io_wants_cpu(&d->io))
		d->demand_ns = d->io.cpu_ns;
	if (wants_cpu(m, (uint32_t)i))
		wake(m, (uint32_t)i);
	return FS_OK;
}

int sim_set_params(struct sim *m, size_t i, const struct sched_params *p)
{
	struct dom_rt *d = &m->d[i];
	if (!d->active)
		return FS_ENOENT;
	int rc = sched_params_check(p);
	if (rc)
		return rc;
	return sched_set_params(&m->s, &d->ent, p, m->now);
}

int sim_io_reconfigure(struct sim *m, size_t i)
{
	struct dom_rt *d = &m->d[i];
	if (!d->active)
		return FS_ENOENT;
	if (m->sc->doms[i].wl != WL_IO)
		return FS_OK;
	int rc = io_reconfigure(&d->io, m->now);
	if (rc)
		return rc;
	io_changed(m, (uint32_t)i);
	return FS_OK;
}

void sim_set_mem_pages(struct sim *m, size_t i, uint64_t pages)
{
	struct dom_rt *d = &m->d[i];
	usage_mem_set(&d->mem, pages, m->now, &d->mem_stamp);
}

void sim_usage(struct sim *m, size_t i, struct usage_counters *out)
{
	struct dom_rt *d = &m->d[i];
	if (!d->active) {
		*out = d->final;
		return;
	}
	struct sched_counters c;
	sched_counters(&m->s, &d->ent, m->now, &c);
	usage_mem_set(&d->mem, d->mem.mem_pages, m->now, &d->mem_stamp);
	*out = (struct usage_counters){
		.cpu_ns = c.cpu_ns,
		.ready_ns = c.ready_ns,
		.cap_throttled_ns = c.cap_throttled_ns,
		.warped_ns = c.warped_ns,
		.dispatches = c.dispatches,
		.wakeups = c.wakeups,
		.hypercalls = d->hypercalls,
		.mem_pages = d->mem.mem_pages,
		.mem_page_ns = d->mem.mem_page_ns,
	};
	if (m->sc->doms[i].wl == WL_IO) {
		struct sim_io io;
		io_result(&d->io, m->now, &io);
		out->blk_read_ops = io.read_ops;
		out->blk_write_ops = io.write_ops;
		out->blk_read_bytes = io.read_bytes;
		out->blk_write_bytes = io.write_bytes;
		out->blk_throttled_ns = io.throttled_ns;
	}
}

uint64_t sim_idle_ns(const struct sim *m)
{
	return sched_idle_ns(&m->s);
}

void sim_result_free(struct sim_result *r)
{
	free(r->doms);
	r->doms = NULL;
	r->n = 0;
}

void sim_counters(const struct sim *m, size_t i, uint64_t now,
                  struct sched_counters *out)
{
	sched_counters(&m->s, &m->d[i].ent, now, out);
}

uint32_t sim_nr_runnable(const struct sim *m)
{
	return sched_nr_runnable(&m->s);
}

enum sched_state sim_state(const struct sim *m, size_t i)
{
	return m->d[i].ent.state;
}

size_t sim_ndomains(const struct sim *m)
{
	return m->n;
}

const struct scenario *sim_scenario(const struct sim *m)
{
	return m->sc;
}
