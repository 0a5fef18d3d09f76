/*
 * What a hosting provider notices about block I/O limits, checked by running
 * io domains through the hvsim engine: the real token bucket pair
 * (accounting/tb.c) decides admission, the real BVT scheduler hands out the
 * CPU the guests need to issue requests, everything in exact virtual time.
 *
 * MB means 10^6 bytes throughout (as in the scenario keys: io_bps is bytes
 * per second). The model and the formulas checked here are in docs/hvsim.md.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/common/rng.h"

#include "tools/hvsim/scenario.h"
#include "tools/hvsim/sim.h"

#define MB 1000000ull
#define KIB 1024ull

/* ---- helpers ------------------------------------------------------------ */

static struct scn_domain cpu_dom(const char *name, uint32_t weight)
{
	struct scn_domain d = { .wl = WL_CPU };
	scn_domain_defaults(&d);
	d.sp.cpu_weight = weight;
	snprintf(d.name, sizeof(d.name), "%s", name);
	return d;
}

/* An io domain with the documented defaults, 4 KiB requests, queue depth
 * 32 and the given limits (0 = unlimited). */
static struct scn_domain io_dom(const char *name, uint64_t bps, uint64_t iops)
{
	struct scn_domain d = { .wl = WL_IO };
	scn_domain_defaults(&d);
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.io.req_bytes = 4 * KIB;
	d.io.queue_depth = 32;
	d.io.bps = bps;
	d.io.iops = iops;
	return d;
}

static void add(struct scenario *sc, struct scn_domain d)
{
	char err[256];
	if (scenario_add(sc, &d, err, sizeof(err)))
		fail_msg("scenario_add: %s", err);
}

/* Run with sched_check() after every decision; then check what must hold
 * for every run: all CPU time accounted exactly once, and no request lost. */
static void run(const struct scenario *sc, struct sim_result *r)
{
	struct sim_opts o = { .check = true };
	assert_int_equal(sim_run(sc, &o, r), 0);
	uint64_t sum = r->idle_ns;
	for (size_t i = 0; i < r->n; i++) {
		const struct sim_io *io = &r->doms[i].io;
		sum += r->doms[i].c.cpu_ns;
		assert_int_equal(io->issued,
		                 sim_io_ops(io) + io->queued + io->inflight);
	}
	assert_int_equal(sum, r->duration_ns);
}

static double achieved_bps(const struct sim_result *r, size_t i)
{
	return (double)sim_io_bytes(&r->doms[i].io) * 1e9 /
	       (double)r->duration_ns;
}

static double achieved_iops(const struct sim_result *r, size_t i)
{
	return (double)sim_io_ops(&r->doms[i].io) * 1e9 /
	       (double)r->duration_ns;
}

static void assert_within(double got, double want, double rel,
                          const char *what)
{
	double err = (got - want) / want;
	if (err < -rel || err > rel)
		fail_msg("%s: got %.1f, want %.1f (%+.3f%%, allowed +-%.2f%%)",
		         what, got, want, 100 * err, 100 * rel);
}

/* ---- the acceptance test ----------------------------------------- */

static void test_two_disks_limited_to_10_and_50_MBps_get_them_within_1pct(
	void **st)
{
	(void)st;
	struct scenario sc;
	struct sim_result r;
	scenario_init(&sc);
	sc.duration_ms = 10000;
	add(&sc, cpu_dom("web", 256));
	add(&sc, io_dom("db10", 10 * MB, 0));
	add(&sc, cpu_dom("batch", 512));
	add(&sc, io_dom("db50", 50 * MB, 0));
	run(&sc, &r);
	print_message("# db10 %.0f B/s, db50 %.0f B/s\n", achieved_bps(&r, 1),
	              achieved_bps(&r, 3));
	assert_within(achieved_bps(&r, 1), 10.0 * MB, 0.01, "db10 io_bps");
	assert_within(achieved_bps(&r, 3), 50.0 * MB, 0.01, "db50 io_bps");
	/* the CPU domains really competed */
	assert_true(r.doms[0].c.cpu_ns > r.duration_ns / 5);
	assert_true(r.doms[2].c.cpu_ns > r.duration_ns / 3);
	sim_result_free(&r);
	scenario_free(&sc);
}

/* ---- iops limits -------------------------------------------------------- */

static void test_iops_limited_domain_gets_its_iops_within_1pct(void **st)
{
	(void)st;
	struct scenario sc;
	struct sim_result r;
	scenario_init(&sc);
	sc.duration_ms = 10000;
	add(&sc, cpu_dom("web", 256));
	add(&sc, io_dom("db", 0, 3000));
	run(&sc, &r);
	print_message("# db %.1f iops\n", achieved_iops(&r, 1));
	assert_within(achieved_iops(&r, 1), 3000, 0.01, "db io_iops");
	sim_result_free(&r);
	scenario_free(&sc);
}

static void test_tighter_of_bytes_and_ops_limit_governs(void **st)
{
	(void)st;
	struct scenario sc;
	struct sim_result r;
	scenario_init(&sc);
	sc.duration_ms = 10000;
	add(&sc, cpu_dom("web", 256));
	/* 50 MB/s of 4 KiB requests would be 12207 ops/s: 1000 ops/s binds */
	add(&sc, io_dom("opsbound", 50 * MB, 1000));
	/* 8 MB/s of 64 KiB requests is 122 ops/s: the bytes bind */
	struct scn_domain b = io_dom("bytesbound", 8 * MB, 1000);
	b.io.req_bytes = 64 * KIB;
	add(&sc, b);
	run(&sc, &r);
	assert_within(achieved_iops(&r, 1), 1000, 0.01, "opsbound io_iops");
	assert_within(achieved_bps(&r, 1), 1000.0 * 4 * KIB, 0.01,
	              "opsbound io_bps");
	assert_within(achieved_bps(&r, 2), 8.0 * MB, 0.01, "bytesbound io_bps");
	assert_true(achieved_iops(&r, 2) < 1000 * 0.2);
	sim_result_free(&r);
	scenario_free(&sc);
}

/* ---- unlimited: only CPU, queue depth and the disk ----------------------- */

/* docs/hvsim.md: alone on the CPU, an unlimited domain completes
 *     min(1 / c, Q / (c + L))  requests per second
 * (c = io_cpu_us, L = disk_latency_us, Q = queue_depth): each slot cycles
 * through c of CPU and L at the disk, and the CPU serves one slot at a time.
 * Over T, the count is within Q of that rate times T (the pipeline fill). */
static void test_unlimited_disk_is_bounded_by_cpu_queue_depth_and_latency(
	void **st)
{
	(void)st;
	static const struct {
		uint64_t c_us, l_us, q;
	} cases[] = {
		{ 5, 100, 1 },   /* latency-bound: 1/105us */
		{ 5, 100, 4 },   /* latency-bound: 4/105us */
		{ 5, 100, 32 },  /* CPU-bound: 1/5us, CPU 100% busy */
		{ 20, 0, 1 },    /* no disk time: 1/20us */
		{ 0, 250, 8 },   /* free to issue: 8/250us */
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct scenario sc;
		struct sim_result r;
		scenario_init(&sc);
		sc.duration_ms = 1000;
		struct scn_domain d = io_dom("disk", 0, 0);
		d.io.cpu_us = cases[k].c_us;
		d.io.latency_us = cases[k].l_us;
		d.io.queue_depth = cases[k].q;
		add(&sc, d);
		run(&sc, &r);
		double c = (double)cases[k].c_us * 1e3;
		double cycle = (double)(cases[k].c_us + cases[k].l_us) * 1e3;
		double rate = (double)cases[k].q / cycle;
		if (c > 0 && 1 / c < rate)
			rate = 1 / c;
		double want = rate * (double)r.duration_ns;
		double got = (double)sim_io_ops(&r.doms[0].io);
		print_message("# c=%llu L=%llu Q=%llu: %.0f ops, formula %.1f\n",
		              (unsigned long long)cases[k].c_us,
		              (unsigned long long)cases[k].l_us,
		              (unsigned long long)cases[k].q, got, want);
		if (got < want - (double)cases[k].q - 1 || got > want + 1)
			fail_msg("case %zu: %.0f ops, formula says %.1f", k,
			         got, want);
		/* the CPU it used is its issued requests' cost plus the
		 * part of the next one it was preparing at the end */
		uint64_t cost = cases[k].c_us * 1000;
		uint64_t cpu = r.doms[0].c.cpu_ns;
		assert_true(cpu >= r.doms[0].io.issued * cost);
		assert_true(cpu <= (r.doms[0].io.issued + 1) * cost);
		assert_int_equal(r.doms[0].io.throttled_ns, 0);
		sim_result_free(&r);
		scenario_free(&sc);
	}
}

/* ---- throttling is visible, nothing is dropped --------------------------- */

static void test_throttled_time_shows_only_for_limited_domain(void **st)
{
	(void)st;
	struct scenario sc;
	struct sim_result r;
	scenario_init(&sc);
	sc.duration_ms = 2000;
	add(&sc, io_dom("limited", 20 * MB, 0));
	add(&sc, io_dom("free", 0, 0));
	add(&sc, cpu_dom("web", 256));
	run(&sc, &r); /* checks issued == completed + queued + in flight */
	const struct sim_io *lim = &r.doms[0].io, *fr = &r.doms[1].io;
	assert_true(lim->throttled_ns > 0);
	assert_true(lim->throttled_ns <= r.duration_ns);
	assert_int_equal(fr->throttled_ns, 0);
	assert_int_equal(fr->queued, 0);
	assert_true(lim->issued > 0 && fr->issued > 0);
	/* with queue depth 32 and a tight limit the queue is never empty */
	assert_true(lim->queued > 0);
	sim_result_free(&r);
	scenario_free(&sc);
}

/* ---- burst ------------------------------------------------------------- */

/* Bytes the buckets admitted: completed plus still at the disk. */
static uint64_t admitted_bytes(const struct sim_result *r, size_t i,
                               uint64_t req)
{
	const struct sim_io *io = &r->doms[i].io;
	return sim_io_bytes(io) + io->inflight * req;
}

static void test_burst_gives_rate_times_t_plus_capacity_plus_burst(void **st)
{
	(void)st;
	const uint64_t rate = 10 * MB, burst = 5 * MB, req = 4 * KIB;
	struct scenario sc;
	struct sim_result r;
	scenario_init(&sc);
	sc.duration_ms = 1000;
	/* A device that costs nothing: the buckets alone decide, and the
	 * head is always retried at the bucket's exact retry time. */
	struct scn_domain ideal = io_dom("ideal", rate, 0);
	ideal.io.burst_bytes = burst;
	ideal.io.cpu_us = 0;
	ideal.io.latency_us = 0;
	ideal.io.queue_depth = 1;
	add(&sc, ideal);
	/* The same limits on a realistic guest competing for the CPU. */
	struct scn_domain real = io_dom("real", rate, 0);
	real.io.burst_bytes = burst;
	add(&sc, real);
	add(&sc, cpu_dom("web", 256));
	run(&sc, &r);
	double t = (double)r.duration_ns / 1e9;
	double bound = (double)rate * t +
	               (double)scn_io_capacity_bytes(&sc.doms[0].io) +
	               (double)burst;
	double ideal_b = (double)admitted_bytes(&r, 0, req);
	double real_b = (double)admitted_bytes(&r, 1, req);
	print_message("# bound %.0f, ideal %.0f, real %.0f bytes\n", bound,
	              ideal_b, real_b);
	if (ideal_b > bound + (double)req || ideal_b < bound - (double)req)
		fail_msg("ideal device: %.0f bytes, want %.0f +- %llu", ideal_b,
		         bound, (unsigned long long)req);
	/* A real guest spends the burst at the speed its share of the CPU
	 * allows; the rate earned meanwhile is banked above capacity (tb.h,
	 * burst_room), so it too reaches the bound within one request. */
	if (real_b > bound + (double)req || real_b < bound - (double)req)
		fail_msg("real guest: %.0f bytes, want %.0f +- %llu", real_b,
		         bound, (unsigned long long)req);
	sim_result_free(&r);
	scenario_free(&sc);
}

/* ---- time accounting ----------------------------------------------------- */

static void test_cpu_plus_idle_is_duration_exactly_with_io_domains(void **st)
{
	(void)st;
	uint64_t rng = 0x9e3779b97f4a7c15ull, seed;
	for (int iter = 0; iter < 40; iter++) {
		struct scenario sc;
		struct sim_result r;
		scenario_init(&sc);
		seed = rng_next(&rng);
		sc.duration_ms = 1 + (seed >> 33) % 200;
		size_t n = 1 + (seed >> 20) % 5;
		for (size_t i = 0; i < n; i++) {
			char name[16];
			snprintf(name, sizeof(name), "d%zu", i);
			seed = rng_next(&rng);
			uint64_t x = seed >> 16;
			if (x % 3 == 0) {
				add(&sc, cpu_dom(name, 1 + (uint32_t)(x % 1000)));
				continue;
			}
			struct scn_domain d = io_dom(name, (x % 4) * 7 * MB,
			                             (x % 5) * 900);
			d.sp.cpu_weight = 1 + (uint32_t)((x >> 8) % 1000);
			d.sp.cpu_cap_pct = (uint32_t)((x >> 18) % 3) * 20;
			d.io.req_bytes = 512 * (1 + (x >> 20) % 64);
			d.io.queue_depth = 1 + (x >> 26) % 16;
			d.io.cpu_us = (x >> 30) % 20;
			d.io.latency_us = 1 + (x >> 35) % 300;
			d.io.mix_read_pct = (x >> 40) % 101;
			add(&sc, d);
		}
		run(&sc, &r); /* asserts the sum and the request balance */
		for (size_t i = 0; i < n; i++) {
			const struct sim_io *io = &r.doms[i].io;
			uint64_t ops = sim_io_ops(io);
			/* the mix is exact: floor(ops * pct / 100) reads */
			if (sc.doms[i].wl == WL_IO)
				assert_int_equal(io->read_ops,
				                 ops * sc.doms[i].io.mix_read_pct /
				                         100);
		}
		sim_result_free(&r);
		scenario_free(&sc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_two_disks_limited_to_10_and_50_MBps_get_them_within_1pct),
		cmocka_unit_test(test_iops_limited_domain_gets_its_iops_within_1pct),
		cmocka_unit_test(test_tighter_of_bytes_and_ops_limit_governs),
		cmocka_unit_test(
			test_unlimited_disk_is_bounded_by_cpu_queue_depth_and_latency),
		cmocka_unit_test(test_throttled_time_shows_only_for_limited_domain),
		cmocka_unit_test(
			test_burst_gives_rate_times_t_plus_capacity_plus_burst),
		cmocka_unit_test(test_cpu_plus_idle_is_duration_exactly_with_io_domains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
