/*
 * Scheduler benchmarks (make bench):
 *
 *  1. Cost of one charge-and-pick decision (sched_pick after a slice
 *     expires: charge the runner, re-queue it, pop the next, compute the
 *     slice) with 16, 256, 4096 and 65536 runnable domains, in wall ns and
 *     in instructions counted by callgrind (this program re-runs itself
 *     under `valgrind --tool=callgrind --toggle-collect=bench_decisions`, so
 *     setup is not counted). Goal: cost(65536) <= 4 * cost(16).
 *  2. hvsim throughput: simulated decisions per wall second.
 *  3. The context-switch allowance sweep behind the default ctx_allow_us:
 *     switch rate against the wake latency of an unwarped interactive
 *     domain and the worst service lag, all in virtual time (exact).
 *
 * Usage: bench_sched OUT.json        (all of the above)
 *        bench_sched --decisions N D (internal: D decisions at N domains)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched.h"
#include "tools/common/rng.h"
#include "tools/hvsim/scenario.h"
#include "tools/hvsim/sim.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
	return rng_next(&rng);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct world {
	struct sched s;
	void *mem;
	struct sched_entity *e;
	uint32_t n;
	uint64_t now, slice;
};

/* n always-runnable domains with weights spread over 1..1024, then one full
 * round of decisions so every domain has run once (steady state). */
static void world_init(struct world *w, uint32_t n)
{
	w->n = n;
	w->mem = malloc(sched_mem_size(n));
	w->e = calloc(n, sizeof(*w->e));
	if (!w->mem || !w->e) {
		perror("calloc");
		exit(1);
	}
	struct sched_config cfg = { .ctx_allow_us = 2000 };
	sched_init(&w->s, &cfg, w->mem, sched_mem_size(n), n, 0);
	for (uint32_t i = 0; i < n; i++) {
		struct sched_params p;
		sched_params_default(&p);
		p.cpu_weight = (uint32_t)(1 + rnd() % 1024);
		sched_add(&w->s, &w->e[i], i + 1, &p, 0);
		sched_wake(&w->s, &w->e[i], 0);
	}
	w->now = 0;
	sched_pick(&w->s, 0, &w->slice);
	for (uint32_t i = 0; i < n; i++) {
		w->now += w->slice;
		sched_pick(&w->s, w->now, &w->slice);
	}
}

static void world_free(struct world *w)
{
	free(w->mem);
	free(w->e);
}

/* The measured loop: the timer fires at the end of every slice. */
__attribute__((noinline)) uint64_t bench_decisions(struct world *w, uint64_t d);
__attribute__((noinline)) uint64_t bench_decisions(struct world *w, uint64_t d)
{
	uint64_t switches = 0;
	struct sched_entity *prev = sched_current(&w->s);
	for (uint64_t i = 0; i < d; i++) {
		w->now += w->slice;
		struct sched_entity *e = sched_pick(&w->s, w->now, &w->slice);
		switches += e != prev;
		prev = e;
	}
	return switches;
}

static const uint32_t sizes[] = { 16, 256, 4096, 65536 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Instructions per decision from a callgrind run of this program. */
static double callgrind_instr(const char *self, uint32_t n, uint64_t d)
{
	char out[] = "/tmp/fs-callgrind-XXXXXX";
	int fd = mkstemp(out);
	if (fd < 0)
		return -1;
	close(fd);
	char cmd[4096 + 512];
	snprintf(cmd, sizeof(cmd),
	         "valgrind --tool=callgrind --callgrind-out-file=%s "
	         "--toggle-collect=bench_decisions %s --decisions %u %llu "
	         ">/dev/null 2>&1",
	         out, self, n, (unsigned long long)d);
	double ir = -1;
	if (system(cmd) == 0) {
		FILE *f = fopen(out, "r");
		char line[512];
		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "summary:", 8) == 0 ||
			    strncmp(line, "totals:", 7) == 0)
				ir = strtod(line + (line[0] == 's' ? 8 : 7),
				            NULL);
		if (f)
			fclose(f);
	}
	unlink(out);
	return ir < 0 ? -1 : ir / (double)d;
}

/* ---- ctx_allow sweep -------------------------------------------------------- */

struct sweep_row {
	uint64_t ctx_allow_us;
	double switches_per_s;
	double p99_ms, max_ms; /* unwarped interactive domain */
	double warped_p99_us;
};

/* One CPU sold as 8 always-busy web slices, one unwarped interactive slice
 * (1 ms of CPU every 20 ms) and one warped VoIP slice. */
static struct sweep_row sweep_one(uint64_t c)
{
	struct scenario sc;
	scenario_init(&sc);
	sc.duration_ms = 10000;
	sc.cfg.ctx_allow_us = c;
	char err[256];
	struct scn_domain d = { .wl = WL_PERIODIC };
	sched_params_default(&d.sp);
	snprintf(d.name, sizeof(d.name), "interactive");
	d.period_us = 20000;
	d.burst_us = 1000;
	scenario_add(&sc, &d, err, sizeof(err));
	snprintf(d.name, sizeof(d.name), "voip");
	d.period_us = 10000;
	d.burst_us = 500;
	d.sp.warp_us = 20000;
	d.sp.warp_limit_us = 2000;
	d.sp.unwarp_us = 5000;
	scenario_add(&sc, &d, err, sizeof(err));
	for (int i = 0; i < 8; i++) {
		struct scn_domain w = { .wl = WL_CPU };
		sched_params_default(&w.sp);
		snprintf(w.name, sizeof(w.name), "web%d", i);
		scenario_add(&sc, &w, err, sizeof(err));
	}
	struct sim_result r;
	struct sweep_row row = { .ctx_allow_us = c };
	if (sim_run(&sc, NULL, &r) == 0) {
		uint64_t disp = 0;
		for (size_t i = 0; i < r.n; i++)
			disp += r.doms[i].c.dispatches;
		row.switches_per_s = (double)disp / (r.duration_ns / 1e9);
		row.p99_ms = r.doms[0].lat.p99 / 1e6;
		row.max_ms = r.doms[0].lat.max / 1e6;
		row.warped_p99_us = r.doms[1].lat.p99 / 1e3;
		sim_result_free(&r);
	}
	scenario_free(&sc);
	return row;
}

/* hvsim on a 64-domain mixed host: decisions per wall second. */
static double hvsim_rate(uint64_t *decisions)
{
	struct scenario sc;
	scenario_init(&sc);
	sc.duration_ms = 600000;
	char err[256];
	for (int i = 0; i < 64; i++) {
		struct scn_domain d = { .wl = (enum workload)(i % 3) };
		sched_params_default(&d.sp);
		d.sp.cpu_weight = (uint32_t)(64 + rnd() % 512);
		snprintf(d.name, sizeof(d.name), "d%d", i);
		d.period_us = 10000;
		d.burst_us = 300;
		d.on_us = 5000;
		d.off_us = 1000;
		scenario_add(&sc, &d, err, sizeof(err));
	}
	struct sim_result r;
	double t0 = now_s();
	int rc = sim_run(&sc, NULL, &r);
	double dt = now_s() - t0;
	*decisions = rc == 0 ? r.decisions : 0;
	if (rc == 0)
		sim_result_free(&r);
	scenario_free(&sc);
	return rc == 0 ? (double)*decisions / dt : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--decisions") == 0) {
		struct world w;
		world_init(&w, (uint32_t)strtoul(argv[2], NULL, 10));
		bench_decisions(&w, strtoull(argv[3], NULL, 10));
		world_free(&w);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: bench_sched OUT.json\n");
		return 2;
	}
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return 1;
	self[len] = '\0';

	double ns[NSIZES], ir[NSIZES], sw[NSIZES];
	const uint64_t d = 2000000;
	printf("sched: one charge-and-pick decision (slice expiry, all "
	       "domains runnable)\n");
	printf("%10s %14s %16s %10s\n", "domains", "ns/decision",
	       "instr/decision", "switches");
	for (size_t k = 0; k < NSIZES; k++) {
		struct world w;
		world_init(&w, sizes[k]);
		double best = 1e30;
		uint64_t s = 0;
		for (int rep = 0; rep < 5; rep++) {
			double t0 = now_s();
			s = bench_decisions(&w, d);
			double t = (now_s() - t0) * 1e9 / (double)d;
			best = t < best ? t : best;
		}
		world_free(&w);
		ns[k] = best;
		sw[k] = (double)s / (double)d;
		ir[k] = callgrind_instr(self, sizes[k], 100000);
		printf("%10u %14.1f %16.1f %9.0f%%\n", sizes[k], ns[k], ir[k],
		       100 * sw[k]);
	}
	double ratio_ns = ns[NSIZES - 1] / ns[0];
	double ratio_ir = ir[0] > 0 ? ir[NSIZES - 1] / ir[0] : -1;
	printf("cost(65536)/cost(16): %.2fx in ns, %.2fx in instructions "
	       "(goal <= 4x)\n\n",
	       ratio_ns, ratio_ir);

	uint64_t hd;
	double rate = hvsim_rate(&hd);
	printf("hvsim: %.2f M simulated decisions per wall second (64 "
	       "domains, 600 s simulated, %llu decisions)\n\n",
	       rate / 1e6, (unsigned long long)hd);

	static const uint64_t cs[] = { 100,  250,  500,   1000,
		                       2000, 5000, 10000, 20000 };
	struct sweep_row rows[sizeof(cs) / sizeof(cs[0])];
	printf("ctx_allow sweep: 8 busy slices + unwarped interactive "
	       "(1 ms/20 ms) + warped voip (0.5 ms/10 ms)\n");
	printf("%10s %12s %22s %18s\n", "ctx_allow", "switches/s",
	       "interactive p99/max", "voip(warp) p99");
	for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
		rows[k] = sweep_one(cs[k]);
		printf("%8lluus %12.0f %12.2f/%6.2f ms %15.1f us\n",
		       (unsigned long long)cs[k], rows[k].switches_per_s,
		       rows[k].p99_ms, rows[k].max_ms, rows[k].warped_p99_us);
	}

	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f, "{\"bench\":\"sched\",\"decision\":[");
	for (size_t k = 0; k < NSIZES; k++)
		fprintf(f, "%s{\"domains\":%u,\"ns\":%.2f,\"instructions\":%.1f,"
		           "\"switch_fraction\":%.3f}",
		        k ? "," : "", sizes[k], ns[k], ir[k], sw[k]);
	fprintf(f, "],\"ratio_65536_over_16_ns\":%.3f,"
	           "\"ratio_65536_over_16_instructions\":%.3f,"
	           "\"hvsim_decisions_per_s\":%.0f,\"ctx_allow_sweep\":[",
	        ratio_ns, ratio_ir, rate);
	for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++)
		fprintf(f, "%s{\"ctx_allow_us\":%llu,\"switches_per_s\":%.1f,"
		           "\"interactive_p99_ms\":%.3f,"
		           "\"interactive_max_ms\":%.3f,"
		           "\"voip_warped_p99_us\":%.1f}",
		        k ? "," : "", (unsigned long long)rows[k].ctx_allow_us,
		        rows[k].switches_per_s, rows[k].p99_ms, rows[k].max_ms,
		        rows[k].warped_p99_us);
	fprintf(f, "]}\n");
	fclose(f);
	return 0;
}
