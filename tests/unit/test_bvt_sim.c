/*
 * What a hosting provider notices about the BVT scheduler, checked by
 * running the real sched/ code through the hvsim engine (virtual time, exact).
 *
 * Every scenario runs with sched_check() after every decision (and, in this
 * FS_DEBUG build, after every scheduler call).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/hvsim/scenario.h"
#include "tools/hvsim/sim.h"
#include "tools/common/rng.h"

/* ---- helpers ------------------------------------------------------------ */

#define MS_NS 1000000ull

static uint64_t rng_state;
static uint64_t rnd(void)
{
	return rng_next(&rng_state);
}
static uint64_t rnd_in(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

static struct scn_domain dom(const char *name, uint32_t weight,
                             enum workload wl)
{
	struct scn_domain d = { .wl = wl };
	sched_params_default(&d.sp);
	d.sp.cpu_weight = weight;
	snprintf(d.name, sizeof(d.name), "%s", name);
	return d;
}

static void add(struct scenario *sc, struct scn_domain d)
{
	char err[256];
	if (scenario_add(sc, &d, err, sizeof(err)))
		fail_msg("scenario_add: %s", err);
}

static void run(const struct scenario *sc, struct sim_opts *o,
                struct sim_result *r)
{
	struct sim_opts def = { .check = true };
	assert_int_equal(sim_run(sc, o ? o : &def, r), 0);
	/* all time is accounted exactly once */
	uint64_t sum = r->idle_ns;
	for (size_t i = 0; i < r->n; i++)
		sum += r->doms[i].c.cpu_ns;
	assert_int_equal(sum, r->duration_ns);
}

/* Print a scenario as an hvsim file, so a failing case can be replayed
 * with `build/bin/hvsim --check FILE`. */
static void dump(const struct scenario *sc)
{
	print_message("duration_ms %llu\nctx_allow_us %llu\n",
	              (unsigned long long)sc->duration_ms,
	              (unsigned long long)sc->cfg.ctx_allow_us);
	for (size_t i = 0; i < sc->n; i++) {
		const struct scn_domain *d = &sc->doms[i];
		print_message("domain name=%s cpu_weight=%u cpu_cap_pct=%u "
		              "warp_us=%llu warp_limit_us=%llu unwarp_us=%llu "
		              "workload=%s",
		              d->name, d->sp.cpu_weight, d->sp.cpu_cap_pct,
		              (unsigned long long)d->sp.warp_us,
		              (unsigned long long)d->sp.warp_limit_us,
		              (unsigned long long)d->sp.unwarp_us,
		              workload_name(d->wl));
		if (d->wl == WL_PERIODIC)
			print_message(" period_us=%llu burst_us=%llu "
			              "phase_us=%llu",
			              (unsigned long long)d->period_us,
			              (unsigned long long)d->burst_us,
			              (unsigned long long)d->phase_us);
		else if (d->wl == WL_ONOFF)
			print_message(" on_us=%llu off_us=%llu",
			              (unsigned long long)d->on_us,
			              (unsigned long long)d->off_us);
		print_message("\n");
	}
}

static double share(const struct sim_result *r, size_t i)
{
	return (double)r->doms[i].c.cpu_ns / (double)r->duration_ns;
}

/* ---- proportional share and service lag ------------------------------------ */

struct lag_ctx {
	double wsum;
	double ctx_allow_ns;
	double worst_over, worst_under; /* in units of the bound */
};

/* Service lag of always-runnable domain i at a decision: what it got minus
 * what weighted fair sharing of the CPU time used so far would give it.
 * docs/scheduler.md derives  -n*C*w_i/W <= lag_i <= C. */
static void lag_hook(void *vctx, const struct sim *m, uint64_t now, int running)
{
	(void)running;
	struct lag_ctx *x = vctx;
	const struct scenario *sc = sim_scenario(m);
	size_t n = sim_ndomains(m);
	double total = 0, cpu[16];
	for (size_t i = 0; i < n; i++) {
		struct sched_counters c;
		sim_counters(m, i, now, &c);
		cpu[i] = (double)c.cpu_ns;
		total += cpu[i];
	}
	for (size_t i = 0; i < n; i++) {
		double w = sc->doms[i].sp.cpu_weight;
		double lag = cpu[i] - total * w / x->wsum;
		double up = x->ctx_allow_ns + 2.0; /* +2 ns: slice rounding */
		double down = (double)n * x->ctx_allow_ns * w / x->wsum + 2.0;
		if (lag / up > x->worst_over)
			x->worst_over = lag / up;
		if (-lag / down > x->worst_under)
			x->worst_under = -lag / down;
	}
}

static void test_cpu_shares_follow_weights_within_half_point(void **st)
{
	(void)st;
	rng_state = 0x5eed0001;
	for (int round = 0; round < 24; round++) {
		struct scenario sc;
		scenario_init(&sc);
		sc.duration_ms = 10000;
		size_t n = (size_t)rnd_in(2, 8);
		double wsum = 0;
		for (size_t i = 0; i < n; i++) {
			char name[32];
			snprintf(name, sizeof(name), "d%zu", i);
			/* extremes on purpose in early rounds */
			uint32_t w = round < 4 ? (i % 2 ? 10000 : 1)
			                       : (uint32_t)rnd_in(1, 10000);
			add(&sc, dom(name, w, WL_CPU));
			wsum += w;
		}
		struct lag_ctx x = { .wsum = wsum,
			             .ctx_allow_ns = 2000.0 * 1000 };
		struct sim_opts o = { .check = true, .on_decision = lag_hook,
			              .ctx = &x };
		struct sim_result r;
		run(&sc, &o, &r);
		for (size_t i = 0; i < n; i++) {
			double want = sc.doms[i].sp.cpu_weight / wsum;
			double got = share(&r, i);
			if (got < want - 0.005 || got > want + 0.005)
				fail_msg("round %d: domain %zu weight %u got "
				         "%.4f%%, want %.4f%% +-0.5pp",
				         round, i, sc.doms[i].sp.cpu_weight,
				         got * 100, want * 100);
		}
		assert_int_equal(r.idle_ns, 0);
		if (x.worst_over > 1.0 || x.worst_under > 1.0)
			fail_msg("round %d: service lag beyond the documented "
			         "bound: %.3f of +C, %.3f of -nCw/W",
			         round, x.worst_over, x.worst_under);
		sim_result_free(&r);
		scenario_free(&sc);
	}
}

/* The lag bound scales with C: a smaller allowance keeps everyone closer to
 * the ideal at every instant (and costs more switches). */
static void test_smaller_ctx_allow_gives_tighter_lag_and_more_switches(void **st)
{
	(void)st;
	uint64_t decisions[2];
	for (int k = 0; k < 2; k++) {
		struct scenario sc;
		scenario_init(&sc);
		sc.duration_ms = 2000;
		sc.cfg.ctx_allow_us = k ? 500 : 5000;
		for (int i = 0; i < 4; i++) {
			char name[32];
			snprintf(name, sizeof(name), "d%d", i);
			add(&sc, dom(name, (uint32_t)(100 * (i + 1)), WL_CPU));
		}
		struct lag_ctx x = { .wsum = 1000,
			             .ctx_allow_ns = sc.cfg.ctx_allow_us * 1e3 };
		struct sim_opts o = { .check = true, .on_decision = lag_hook,
			              .ctx = &x };
		struct sim_result r;
		run(&sc, &o, &r);
		assert_true(x.worst_over <= 1.0 && x.worst_under <= 1.0);
		decisions[k] = r.decisions;
		sim_result_free(&r);
		scenario_free(&sc);
	}
	assert_true(decisions[1] > 5 * decisions[0]);
}

/* ---- the credit-scheduler attack (2009): run 9.5 ms, sleep 0.5 ms -------- */

static void test_bursty_domain_gets_no_more_than_weighted_share(void **st)
{
	(void)st;
	for (int others = 1; others <= 7; others += 3) {
		struct scenario sc;
		scenario_init(&sc);
		struct scn_domain b = dom("bursty", 256, WL_ONOFF);
		b.on_us = 9500;
		b.off_us = 500;
		add(&sc, b);
		for (int i = 0; i < others; i++) {
			char name[32];
			snprintf(name, sizeof(name), "cpu%d", i);
			add(&sc, dom(name, 256, WL_CPU));
		}
		struct sim_result r;
		run(&sc, NULL, &r);
		double want = 1.0 / (others + 1);
		if (share(&r, 0) > want + 0.005)
			fail_msg("bursty took %.3f%% with %d competitors, "
			         "weighted share %.3f%%",
			         share(&r, 0) * 100, others, want * 100);
		sim_result_free(&r);
		scenario_free(&sc);
	}
}

/* ---- warp: latency, not CPU ------------------------------------------------ */

static uint64_t voip_p99(bool warp, double *voip_share)
{
	struct scenario sc;
	scenario_init(&sc);
	sc.cfg.ctx_allow_us = 2000;
	struct scn_domain v = dom("voip", 256, WL_PERIODIC);
	v.period_us = 10000;
	v.burst_us = 800;
	if (warp) {
		v.sp.warp_us = 20000;
		v.sp.warp_limit_us = 2000;
		v.sp.unwarp_us = 5000;
	}
	add(&sc, v);
	for (int i = 0; i < 8; i++) {
		char name[32];
		snprintf(name, sizeof(name), "web%d", i);
		add(&sc, dom(name, 256, WL_CPU));
	}
	struct sim_result r;
	run(&sc, NULL, &r);
	/* warped it is served within every period; unwarped it can miss
	 * periods (its demand then accumulates, so it wakes less often) */
	if (warp)
		assert_int_equal(r.doms[0].lat.n, 1000);
	assert_true(r.doms[0].lat.n > 0);
	*voip_share = share(&r, 0);
	uint64_t p99 = r.doms[0].lat.p99;
	sim_result_free(&r);
	scenario_free(&sc);
	return p99;
}

static void test_warp_cuts_voip_wake_latency_tenfold(void **st)
{
	(void)st;
	double s_warp, s_plain;
	uint64_t with = voip_p99(true, &s_warp);
	uint64_t without = voip_p99(false, &s_plain);
	print_message("voip p99 wake latency: %llu ns with warp, %llu ns "
	              "without\n",
	              (unsigned long long)with, (unsigned long long)without);
	assert_true(with <= 100 * 1000);
	/* not vacuous: without warp the VoIP guest really waits */
	assert_true(without >= 1000 * 1000);
	assert_true(without >= 10 * with);
	/* its demand (8%) is within its share, so it gets all of it either way */
	assert_true(s_warp > 0.0799 && s_warp < 0.0801);
	assert_true(s_plain > 0.0799 && s_plain < 0.0801);
}

static void test_warped_always_runnable_domain_gets_only_weighted_share(void **st)
{
	(void)st;
	/* always runnable, and a warped domain that blocks briefly and
	 * often, so it re-warps on every wake */
	for (int kind = 0; kind < 2; kind++) {
		struct scenario sc;
		scenario_init(&sc);
		struct scn_domain w = dom("warped", 256,
		                          kind ? WL_ONOFF : WL_CPU);
		w.sp.warp_us = 50000;
		w.sp.warp_limit_us = 2000;
		w.sp.unwarp_us = kind ? 0 : 1000;
		if (kind) {
			/* blocks 1 us after every 1.5 ms and, with U = 0,
			 * re-warps on every wake */
			w.on_us = 1500;
			w.off_us = 1;
		}
		add(&sc, w);
		for (int i = 0; i < 3; i++) {
			char name[32];
			snprintf(name, sizeof(name), "cpu%d", i);
			add(&sc, dom(name, 256, WL_CPU));
		}
		struct sim_result r;
		run(&sc, NULL, &r);
		if (share(&r, 0) > 0.25 + 0.005)
			fail_msg("warped %s domain took %.3f%% of the CPU, "
			         "weighted share 25%%",
			         kind ? "on/off" : "cpu", share(&r, 0) * 100);
		/* cpu: warps once (it never wakes again); on/off: every run
		 * starts warped, so most of its CPU is warped */
		assert_true(r.doms[0].c.warped_ns > 0);
		if (kind)
			assert_true(r.doms[0].c.warped_ns * 2 >
			            r.doms[0].c.cpu_ns);
		sim_result_free(&r);
		scenario_free(&sc);
	}
}

/* ---- caps: "max CPU %" ----------------------------------------------------- */

static void test_cap_holds_even_alone_on_an_idle_cpu(void **st)
{
	(void)st;
	static const uint32_t caps[] = { 1, 5, 25, 33, 50, 75, 99 };
	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		struct scenario sc;
		scenario_init(&sc);
		struct scn_domain d = dom("capped", 256, WL_CPU);
		d.sp.cpu_cap_pct = caps[k];
		add(&sc, d);
		struct sim_result r;
		run(&sc, NULL, &r);
		double got = share(&r, 0), cap = caps[k] / 100.0;
		if (got > cap + 0.005 || got < cap - 0.005)
			fail_msg("cap %u%% alone: got %.3f%%", caps[k],
			         got * 100);
		assert_true(r.doms[0].c.cap_throttled_ns > 0);
		sim_result_free(&r);
		scenario_free(&sc);
	}
}

static void test_capped_domain_gets_its_cap_when_its_weight_earns_more(void **st)
{
	(void)st;
	struct scenario sc;
	scenario_init(&sc);
	struct scn_domain b = dom("batch", 1024, WL_CPU); /* 80% by weight */
	b.sp.cpu_cap_pct = 30;
	add(&sc, b);
	add(&sc, dom("web", 256, WL_CPU));
	struct sim_result r;
	run(&sc, NULL, &r);
	assert_true(share(&r, 0) <= 0.305 && share(&r, 0) >= 0.295);
	/* work-conserving for the uncapped one: it gets the rest */
	assert_int_equal(r.idle_ns, 0);
	sim_result_free(&r);
	scenario_free(&sc);
}

/* ---- property tests -------------------------------------------------------- */

struct prop_ctx {
	int violations;
	uint64_t at;
	char why[200];
	uint64_t wait_bound_ns[16];
	uint64_t ready_since[16]; /* UINT64_MAX: not waiting */
};

/* At every decision: work conservation, and a bound on every wait.
 * docs/scheduler.md derives it: while domain i waits (E_i fixed), another
 * domain j runs at most until its E passes E_i + C. j starts at most its
 * warp W_j plus one allowance behind SVT; i is at most its own allowance,
 * its warp W_i (a domain that re-warps on every wake accumulates up to all
 * of it, whatever its warp limit) and one ns (time is whole ns) ahead, in
 * i's virtual time, which is that much CPU times w_j / w_i for j. So
 *   wait_i <= sum_{j != i} ((C + W_i + 1ns) * w_j/w_i + 2C + W_j)
 * for uncapped j; a capped j contributes at most cap_j * wait + its bucket,
 * which bounds the wait when the caps sum below 100% (docs/scheduler.md).
 */
static void prop_hook(void *vctx, const struct sim *m, uint64_t now,
                      int running)
{
	struct prop_ctx *x = vctx;
	if (x->violations)
		return;
	size_t n = sim_ndomains(m), throttled = 0;
	for (size_t i = 0; i < n; i++) {
		enum sched_state st = sim_state(m, i);
		throttled += st == SCHED_THROTTLED;
		if (st != SCHED_READY) {
			x->ready_since[i] = UINT64_MAX;
			continue;
		}
		if (x->ready_since[i] == UINT64_MAX)
			x->ready_since[i] = now;
		if (now - x->ready_since[i] > x->wait_bound_ns[i]) {
			x->violations++;
			x->at = now;
			snprintf(x->why, sizeof(x->why),
			         "domain %zu waited %llu ns, bound %llu ns", i,
			         (unsigned long long)(now - x->ready_since[i]),
			         (unsigned long long)x->wait_bound_ns[i]);
			return;
		}
	}
	/* Idle is allowed only when nothing is runnable, or when every
	 * runnable domain is held back by its cap. */
	uint32_t runnable = sim_nr_runnable(m);
	if (running < 0 && runnable != throttled) {
		x->violations++;
		x->at = now;
		snprintf(x->why, sizeof(x->why),
		         "idle with %u runnable, %zu throttled", runnable,
		         throttled);
	}
}

static void random_domain(struct scenario *sc, size_t i, bool caps, bool warps,
                          bool tight)
{
	char name[32];
	snprintf(name, sizeof(name), "r%zu", i);
	struct scn_domain d = dom(name, (uint32_t)rnd_in(1, 65535),
	                          (enum workload)rnd_in(0, 2));
	if (tight)
		d.sp.cpu_weight = (uint32_t)rnd_in(100, 1000);
	else if (rnd() % 3 == 0)
		d.sp.cpu_weight = (uint32_t)rnd_in(1, 1000);
	if (caps && rnd() % 3 == 0)
		d.sp.cpu_cap_pct = (uint32_t)rnd_in(0, 100);
	if (warps && rnd() % 3 == 0) {
		d.sp.warp_us = rnd_in(0, 50000);
		d.sp.warp_limit_us = rnd_in(0, 5000);
		d.sp.unwarp_us = rnd_in(0, 20000);
	}
	d.period_us = rnd_in(1, 20000);
	d.burst_us = rnd_in(1, d.period_us);
	d.phase_us = rnd_in(0, 5000);
	d.on_us = rnd_in(1, 20000);
	d.off_us = rnd_in(1, 20000);
	add(sc, d);
}

static void test_random_scenarios_keep_every_invariant(void **st)
{
	(void)st;
	rng_state = 0xfa125a4e;
	const int rounds = 2000;
	size_t total_domains = 0, binding = 0;
	for (int round = 0; round < rounds; round++) {
		struct scenario sc;
		scenario_init(&sc);
		/* Half the rounds are "tight": weights within 10x and runs
		 * long enough that the wait bound is shorter than the run, so
		 * the bound is really tested, not just vacuously true. */
		bool tight = round % 2 == 0;
		sc.duration_ms = tight ? rnd_in(300, 1000) : rnd_in(1, 300);
		sc.cfg.ctx_allow_us = tight ? rnd_in(100, 2000)
		                            : rnd_in(1, 20000);
		if (!tight && rnd() % 8 == 0) {
			/* C = 0: pure processor sharing, ns-sized slices */
			sc.cfg.ctx_allow_us = 0;
			sc.duration_ms = rnd_in(1, 3);
		}
		bool caps = rnd() % 2, warps = rnd() % 2;
		size_t n = (size_t)rnd_in(1, 12);
		for (size_t i = 0; i < n; i++)
			random_domain(&sc, i, caps, warps, tight);
		struct prop_ctx x = { 0 };
		total_domains += n;
		for (size_t i = 0; i < n; i++) {
			const struct sched_params *pi = &sc.doms[i].sp;
			x.ready_since[i] = UINT64_MAX;
			uint64_t c = sc.cfg.ctx_allow_us * 1000;
			uint64_t lead = c + pi->warp_us * 1000 + 1;
			/* A capped competitor may be released (with up to C
			 * of lag) again and again while i waits, but in any
			 * window W it runs at most cap*W + one bucket. */
			double uncapped = 0, capped = 0, capsum = 0;
			for (size_t j = 0; j < n; j++) {
				const struct sched_params *pj = &sc.doms[j].sp;
				if (j == i)
					continue;
				if (pj->cpu_cap_pct > 0 && pj->cpu_cap_pct < 100) {
					capsum += pj->cpu_cap_pct / 100.0;
					capped += pj->cpu_cap_pct / 100.0 * 10 *
					          (double)MS_NS;
					continue;
				}
				uncapped += (double)(lead * pj->cpu_weight /
				                     pi->cpu_weight) +
				            2.0 * (double)c +
				            (double)pj->warp_us * 1000;
			}
			double b = capsum < 0.95 ? (uncapped + capped) / (1 - capsum)
			                       : 1e30;
			x.wait_bound_ns[i] = b > 1e18 ? UINT64_MAX / 2
			                              : (uint64_t)b;
			/* slices round up by < 1 ns each: 0.1% + 10 us */
			x.wait_bound_ns[i] += x.wait_bound_ns[i] / 1000 + 10000;
			binding += x.wait_bound_ns[i] < sc.duration_ms * MS_NS;
		}
		struct sim_opts o = { .check = true, .on_decision = prop_hook,
			              .ctx = &x };
		struct sim_result r;
		run(&sc, &o, &r); /* asserts cpu + idle == duration */
		if (x.violations) {
			dump(&sc);
			fail_msg("round %d at %llu ns: %s", round,
			         (unsigned long long)x.at, x.why);
		}
		for (size_t i = 0; i < n; i++) {
			const struct sched_counters *c = &r.doms[i].c;
			const struct scn_domain *d = &sc.doms[i];
			assert_true(c->warped_ns <= c->cpu_ns);
			assert_true(c->cpu_ns + c->ready_ns +
			                    c->cap_throttled_ns <=
			            r.duration_ns);
			if (d->sp.cpu_cap_pct == 0 || d->sp.cpu_cap_pct == 100)
				assert_int_equal(c->cap_throttled_ns, 0);
			if (d->sp.warp_us == 0)
				assert_int_equal(c->warped_ns, 0);
		}
		sim_result_free(&r);
		scenario_free(&sc);
	}
	/* the wait bound could have failed for a good share of domains */
	print_message("wait bound shorter than the run for %zu of %zu "
	              "domains\n",
	              binding, total_domains);
	assert_true(binding * 4 >= total_domains);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_shares_follow_weights_within_half_point),
		cmocka_unit_test(test_smaller_ctx_allow_gives_tighter_lag_and_more_switches),
		cmocka_unit_test(test_bursty_domain_gets_no_more_than_weighted_share),
		cmocka_unit_test(test_warp_cuts_voip_wake_latency_tenfold),
		cmocka_unit_test(test_warped_always_runnable_domain_gets_only_weighted_share),
		cmocka_unit_test(test_cap_holds_even_alone_on_an_idle_cpu),
		cmocka_unit_test(test_capped_domain_gets_its_cap_when_its_weight_earns_more),
		cmocka_unit_test(test_random_scenarios_keep_every_invariant),
	};
	return cmocka_run_group_tests_name("bvt_sim", tests, NULL, NULL);
}
