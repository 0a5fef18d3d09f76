/*
 * hvsim: run a scenario through the real BVT scheduler in virtual time.
 *
 *   hvsim [--json] [--check] SCENARIO
 *   hvsim --serve-link PATH [options] [SCENARIO]   (serve.h, docs/hvsim.md)
 *
 * Prints a table (default; a second one for io domains) or one JSON object;
 * docs/hvsim.md lists every field. Exit status: 0 on success,
 * 2 for a bad command line or scenario file (the message names file, line
 * and reason), 1 for a failure while simulating.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"
#include "serve.h"
#include "sim.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: hvsim [--json] [--check] SCENARIO\n"
	           "       hvsim --serve-link PATH [--speed N] [--domains N] "
	           "[--meter-interval-ms N]\n"
	           "             [--run-ms N] [--replay-kib N] "
	           "[--max-domains N] [--boot-id N]\n"
	           "             [--dump FILE] [--quiet] [--check] "
	           "[SCENARIO]\n"
	           "  --json   print one JSON object instead of a table\n"
	           "  --check  verify the scheduler's invariants after every "
	           "decision\n"
	           "  --serve-link PATH  be the hypervisor's end of the "
	           "management link\n"
	           "           on the UNIX socket PATH (docs/hvsim.md "
	           "section 5)\n");
}

/* Strict decimal u64 for an option value: 0, or -1 (message printed). */
static int opt_u64(const char *opt, const char *v, uint64_t min, uint64_t max,
                   uint64_t *out)
{
	uint64_t x = 0;
	const char *s = v;
	if (!s || !*s)
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			goto bad;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x < min || x > max)
		goto bad;
	*out = x;
	return 0;
bad:
	fprintf(stderr,
	        "hvsim: %s needs an integer %llu..%llu, got '%s'\n", opt,
	        (unsigned long long)min, (unsigned long long)max,
	        v ? v : "");
	return -1;
}

static int serve_main(int argc, char **argv)
{
	struct serve_opts o = { .speed = 1, .meter_interval_ms = 1000,
		                .replay_bytes = 32u << 20 };
	uint64_t domains = 0, kib = 32768, max_domains = 0;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;
		if (strcmp(a, "--serve-link") == 0 && v)
			o.path = v;
		else if (strcmp(a, "--speed") == 0)
			rc = opt_u64(a, v, 0, 1000000, &o.speed);
		else if (strcmp(a, "--domains") == 0)
			rc = opt_u64(a, v, 0, 1000000, &domains);
		else if (strcmp(a, "--meter-interval-ms") == 0)
			rc = opt_u64(a, v, 1, 3600000, &o.meter_interval_ms);
		else if (strcmp(a, "--run-ms") == 0)
			rc = opt_u64(a, v, 0, SCN_DURATION_MAX_MS, &o.run_ms);
		else if (strcmp(a, "--replay-kib") == 0)
			rc = opt_u64(a, v, 64, 16u << 20, &kib);
		else if (strcmp(a, "--max-domains") == 0)
			rc = opt_u64(a, v, 0, 1000000, &max_domains);
		else if (strcmp(a, "--boot-id") == 0)
			rc = opt_u64(a, v, 1, UINT64_MAX, &o.boot_id);
		else if (strcmp(a, "--dump") == 0 && v)
			o.dump_path = v;
		else if (strcmp(a, "--quiet") == 0) {
			o.quiet = true;
			continue;
		} else if (strcmp(a, "--check") == 0) {
			o.check = true;
			continue;
		} else if (a[0] != '-' && !path) {
			path = a;
			continue;
		} else {
			fprintf(stderr, "hvsim: unexpected argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
		if (rc)
			return 2;
		i++; /* the option's value */
	}
	o.replay_bytes = (size_t)kib << 10;
	struct scenario sc;
	char err[512];
	if (path) {
		if (scenario_load(path, &sc, err, sizeof(err))) {
			fprintf(stderr, "hvsim: %s\n", err);
			scenario_free(&sc);
			return 2;
		}
	} else {
		scenario_init(&sc);
	}
	if (serve_generate(&sc, (size_t)domains, err, sizeof(err))) {
		fprintf(stderr, "hvsim: %s\n", err);
		scenario_free(&sc);
		return 2;
	}
	o.max_domains = max_domains ? (size_t)max_domains : sc.n + 1024;
	int rc = serve_run(&sc, &o);
	scenario_free(&sc);
	return rc;
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

/* Achieved rate: n per second over the whole run. */
static double per_s(uint64_t n, uint64_t duration_ns)
{
	return duration_ns ? (double)n * 1e9 / (double)duration_ns : 0.0;
}

static void print_json_io(const struct scn_domain *d, const struct sim_io *io,
                          uint64_t duration_ns)
{
	printf(",\"req_bytes\":%llu,\"queue_depth\":%llu,"
	       "\"io_bps_limit\":%llu,\"io_iops_limit\":%llu,"
	       "\"io_bytes\":%llu,\"io_ops\":%llu,"
	       "\"io_read_ops\":%llu,\"io_write_ops\":%llu,"
	       "\"io_read_bytes\":%llu,\"io_write_bytes\":%llu,"
	       "\"io_throttled_ns\":%llu,\"io_bps\":%.3f,\"io_iops\":%.3f,"
	       "\"io_issued\":%llu,\"io_queued\":%llu,\"io_inflight\":%llu",
	       (unsigned long long)d->io.req_bytes,
	       (unsigned long long)d->io.queue_depth,
	       (unsigned long long)d->io.bps, (unsigned long long)d->io.iops,
	       (unsigned long long)sim_io_bytes(io),
	       (unsigned long long)sim_io_ops(io),
	       (unsigned long long)io->read_ops,
	       (unsigned long long)io->write_ops,
	       (unsigned long long)io->read_bytes,
	       (unsigned long long)io->write_bytes,
	       (unsigned long long)io->throttled_ns,
	       per_s(sim_io_bytes(io), duration_ns),
	       per_s(sim_io_ops(io), duration_ns),
	       (unsigned long long)io->issued, (unsigned long long)io->queued,
	       (unsigned long long)io->inflight);
}

static void print_json(const struct scenario *sc, const struct sim_result *r)
{
	printf("{\"duration_ns\":%llu,\"idle_ns\":%llu,\"decisions\":%llu,"
	       "\"ctx_allow_us\":%llu,\"domains\":[",
	       (unsigned long long)r->duration_ns,
	       (unsigned long long)r->idle_ns,
	       (unsigned long long)r->decisions,
	       (unsigned long long)sc->cfg.ctx_allow_us);
	for (size_t i = 0; i < r->n; i++) {
		const struct scn_domain *d = &sc->doms[i];
		const struct sched_counters *c = &r->doms[i].c;
		/* names are [A-Za-z0-9_.-]: no JSON escaping needed */
		printf("%s{\"name\":\"%s\",\"workload\":\"%s\","
		       "\"cpu_weight\":%u,\"cpu_cap_pct\":%u,\"cpu_ns\":%llu,"
		       "\"share\":%.6f,\"ready_ns\":%llu,\"warped_ns\":%llu,"
		       "\"cap_throttled_ns\":%llu,\"dispatches\":%llu,"
		       "\"wakeups\":%llu",
		       i ? "," : "", d->name, workload_name(d->wl),
		       d->sp.cpu_weight, d->sp.cpu_cap_pct,
		       (unsigned long long)c->cpu_ns,
		       share(c->cpu_ns, r->duration_ns),
		       (unsigned long long)c->ready_ns,
		       (unsigned long long)c->warped_ns,
		       (unsigned long long)c->cap_throttled_ns,
		       (unsigned long long)c->dispatches,
		       (unsigned long long)c->wakeups);
		const struct sim_latency *l = &r->doms[i].lat;
		if (d->wl != WL_CPU)
			printf(",\"wake_latency_ns\":{\"n\":%llu,\"p50\":%llu,"
			       "\"p99\":%llu,\"max\":%llu}",
			       (unsigned long long)l->n,
			       (unsigned long long)l->p50,
			       (unsigned long long)l->p99,
			       (unsigned long long)l->max);
		if (d->wl == WL_IO)
			print_json_io(d, &r->doms[i].io, r->duration_ns);
		printf("}");
	}
	printf("]}\n");
}

static void fmt_limit(char *buf, size_t len, uint64_t limit, double scale)
{
	if (limit)
		snprintf(buf, len, "%.3f", (double)limit / scale);
	else
		snprintf(buf, len, "-");
}

/* The second table: one row per io domain. MB = 10^6 bytes. */
static void print_io_table(const struct scenario *sc,
                           const struct sim_result *r)
{
	printf("\n%-12s %8s %5s %10s %10s %10s %10s %7s %12s %10s\n",
	       "io domain", "req_B", "qd", "lim_MB/s", "MB/s", "lim_iops",
	       "iops", "read%", "throttled_ms", "in_flight");
	for (size_t i = 0; i < r->n; i++) {
		const struct scn_domain *d = &sc->doms[i];
		const struct sim_io *io = &r->doms[i].io;
		if (d->wl != WL_IO)
			continue;
		char lb[32], lo[32];
		fmt_limit(lb, sizeof(lb), d->io.bps, 1e6);
		fmt_limit(lo, sizeof(lo), d->io.iops, 1.0);
		uint64_t ops = sim_io_ops(io);
		printf("%-12s %8llu %5llu %10s %10.3f %10s %10.1f %7.1f %12.3f "
		       "%10llu\n",
		       d->name, (unsigned long long)d->io.req_bytes,
		       (unsigned long long)d->io.queue_depth, lb,
		       per_s(sim_io_bytes(io), r->duration_ns) / 1e6, lo,
		       per_s(ops, r->duration_ns),
		       100.0 * share(io->read_ops, ops),
		       io->throttled_ns / 1e6,
		       (unsigned long long)(io->queued + io->inflight));
	}
}

static void print_table(const struct scenario *sc, const struct sim_result *r)
{
	printf("hvsim: %llu ms simulated, ctx_allow %llu us, %llu decisions, "
	       "idle %.2f%%\n\n",
	       (unsigned long long)(r->duration_ns / 1000000),
	       (unsigned long long)sc->cfg.ctx_allow_us,
	       (unsigned long long)r->decisions,
	       100.0 * share(r->idle_ns, r->duration_ns));
	printf("%-12s %-8s %6s %4s %8s %10s %10s %9s %8s %27s\n", "domain",
	       "workload", "weight", "cap", "share%", "cpu_ms", "ready_ms",
	       "dispatch", "wakeups", "wake latency us p50/p99/max");
	for (size_t i = 0; i < r->n; i++) {
		const struct scn_domain *d = &sc->doms[i];
		const struct sched_counters *c = &r->doms[i].c;
		char cap[16] = "-", lat[64] = "-";
		if (d->sp.cpu_cap_pct)
			snprintf(cap, sizeof(cap), "%u", d->sp.cpu_cap_pct);
		const struct sim_latency *l = &r->doms[i].lat;
		if (d->wl != WL_CPU)
			snprintf(lat, sizeof(lat), "%.1f/%.1f/%.1f",
			         l->p50 / 1e3, l->p99 / 1e3, l->max / 1e3);
		printf("%-12s %-8s %6u %4s %8.3f %10.3f %10.3f %9llu %8llu "
		       "%27s\n",
		       d->name, workload_name(d->wl), d->sp.cpu_weight, cap,
		       100.0 * share(c->cpu_ns, r->duration_ns),
		       c->cpu_ns / 1e6, c->ready_ns / 1e6,
		       (unsigned long long)c->dispatches,
		       (unsigned long long)c->wakeups, lat);
	}
	for (size_t i = 0; i < r->n; i++)
		if (sc->doms[i].wl == WL_IO) {
			print_io_table(sc, r);
			break;
		}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--serve-link") == 0)
			return serve_main(argc, argv);
	int json = 0, check = 0;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--check") == 0) {
			check = 1;
		} else if (strcmp(argv[i], "--help") == 0 ||
		           strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "hvsim: unexpected argument '%s'\n",
			        argv[i]);
			usage(stderr);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	struct scenario sc;
	char err[512];
	if (scenario_load(path, &sc, err, sizeof(err))) {
		fprintf(stderr, "hvsim: %s\n", err);
		scenario_free(&sc);
		return 2;
	}
	struct sim_opts o = { .check = check };
	struct sim_result r;
	if (sim_run(&sc, &o, &r)) {
		fprintf(stderr, "hvsim: simulation failed\n");
		scenario_free(&sc);
		return 1;
	}
	if (json)
		print_json(&sc, &r);
	else
		print_table(&sc, &r);
	sim_result_free(&r);
	scenario_free(&sc);
	return 0;
}
