/*
 * Cost of a token-bucket decision: nanoseconds per tb_consume() on the
 * admitted and the refused path, and per tb_pair_consume(), which the block
 * path pays on every request.
 *
 * Usage: bench_tb OUT.json. Prints a table on stdout and writes
 * {"bench":"tb","results":[{"name":...,"ns_per_op":...,"iterations":...}]}.
 *
 * Each case times ITERS calls with CLOCK_MONOTONIC around the whole loop and
 * reports the best of REPEATS runs (the least disturbed by the machine). The
 * library is linked from a static archive without LTO, so every call is a
 * real call; the results feed a volatile sink so no loop is dropped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "accounting/tb.h"

#define ITERS 10000000ull
#define REPEATS 5

static volatile uint64_t sink;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Admitted: 4 KiB requests 400 ns apart against 10 GiB/s, so every call
 * refills (a division) and is admitted. */
static uint64_t run_admitted(void)
{
	struct token_bucket b;
	uint64_t n = 0, t0, t1;
	ns_t now = 0;

	tb_init(&b, 1ull << 20, 10ull << 30, 0, 0);
	t0 = mono_ns();
	for (uint64_t i = 0; i < ITERS; i++) {
		now += 400;
		n += tb_consume(&b, 4096, now, NULL);
	}
	t1 = mono_ns();
	sink += n;
	if (n != ITERS) {
		fprintf(stderr, "bench_tb: admitted case refused %llu\n",
		        (unsigned long long)(ITERS - n));
		exit(1);
	}
	return t1 - t0;
}

/* Refused: an empty bucket asked 1 ns apart for more than it refills, so
 * every call refills, is refused and computes the exact retry time. */
static uint64_t run_refused(void)
{
	struct token_bucket b;
	uint64_t n = 0, t0, t1;
	ns_t now = 0, retry;

	tb_init(&b, 1ull << 20, 3000, 0, 0);
	tb_consume(&b, 1ull << 20, 0, NULL);
	t0 = mono_ns();
	for (uint64_t i = 0; i < ITERS; i++) {
		now += 1;
		n += !tb_consume(&b, 4096, now, &retry);
		sink += retry;
	}
	t1 = mono_ns();
	sink += n;
	if (n != ITERS) {
		fprintf(stderr, "bench_tb: refused case admitted some\n");
		exit(1);
	}
	return t1 - t0;
}

/* Pair, admitted: 4 KiB and one op every 400 ns against 10 GiB/s and
 * 10 M ops/s. */
static uint64_t run_pair(void)
{
	const struct tb_limits bl = {1ull << 20, 10ull << 30, 0};
	const struct tb_limits ol = {1000, 10000000, 0};
	struct tb_pair p;
	uint64_t n = 0, t0, t1;
	ns_t now = 0;

	tb_pair_init(&p, &bl, &ol, 0);
	t0 = mono_ns();
	for (uint64_t i = 0; i < ITERS; i++) {
		now += 400;
		n += tb_pair_consume(&p, 4096, 1, now, NULL);
	}
	t1 = mono_ns();
	sink += n;
	if (n != ITERS) {
		fprintf(stderr, "bench_tb: pair case refused some\n");
		exit(1);
	}
	return t1 - t0;
}

/* Pair, refused by the ops bucket. */
static uint64_t run_pair_refused(void)
{
	const struct tb_limits bl = {1ull << 20, 10ull << 30, 0};
	const struct tb_limits ol = {1, 1, 0};
	struct tb_pair p;
	uint64_t n = 0, t0, t1;
	ns_t now = 0, retry;

	tb_pair_init(&p, &bl, &ol, 0);
	tb_pair_consume(&p, 4096, 1, 0, NULL);
	t0 = mono_ns();
	for (uint64_t i = 0; i < ITERS; i++) {
		now += 1;
		n += !tb_pair_consume(&p, 4096, 1, now, &retry);
		sink += retry;
	}
	t1 = mono_ns();
	sink += n;
	if (n != ITERS) {
		fprintf(stderr, "bench_tb: pair refused case admitted some\n");
		exit(1);
	}
	return t1 - t0;
}

static const struct {
	const char *name;
	uint64_t (*run)(void);
} cases[] = {
    {"tb_consume_admitted", run_admitted},
    {"tb_consume_refused", run_refused},
    {"tb_pair_consume_admitted", run_pair},
    {"tb_pair_consume_refused", run_pair_refused},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

int main(int argc, char **argv)
{
	double ns_per_op[NCASES];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
		return 2;
	}
	printf("%-28s %12s %14s\n", "case", "ns/op", "iterations");
	for (size_t c = 0; c < NCASES; c++) {
		uint64_t best = UINT64_MAX;

		for (int r = 0; r < REPEATS; r++) {
			uint64_t t = cases[c].run();

			if (t < best)
				best = t;
		}
		ns_per_op[c] = (double)best / (double)ITERS;
		printf("%-28s %12.2f %14llu\n", cases[c].name, ns_per_op[c],
		       (unsigned long long)ITERS);
	}

	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f, "{\"bench\":\"tb\",\"results\":[");
	for (size_t c = 0; c < NCASES; c++)
		fprintf(f,
		        "%s{\"name\":\"%s\",\"ns_per_op\":%.3f,"
		        "\"iterations\":%llu}",
		        c ? "," : "", cases[c].name, ns_per_op[c],
		        (unsigned long long)ITERS);
	fprintf(f, "]}\n");
	if (fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
