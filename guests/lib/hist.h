/*
 * A latency histogram with running percentiles, exact to 1 us.
 *
 * 65536 buckets of 1 us cover 0 .. 65.535 ms; the last bucket also takes
 * everything beyond (the overflow bucket). Percentiles are nearest-rank:
 * the p-th percentile is the smallest bucket b such that at least
 * ceil(n * p / 1000) samples lie in buckets <= b (p in per mille).
 *
 * Each tracked percentile keeps its bucket and the number of samples below
 * it. One new sample moves the rank by at most one and the "below" count by
 * at most one, so the bucket moves to at most the next (or previous)
 * non-empty bucket: an O(1) step, found through a two-level bitmap of
 * non-empty buckets (1024 words, and a 16-word summary of non-empty words).
 * hist_add() costs a few dozen instructions per tracked percentile, and at
 * most ~150 when it has to search the summary.
 *
 * Memory is the caller's (a static, ~265 KiB; it starts zeroed in .bss, or
 * call hist_init). No allocation, no floating point, no calls.
 */
#ifndef GUEST_HIST_H
#define GUEST_HIST_H

#include <stdint.h>

#include "fs_types.h"

#define HIST_BUCKETS 65536u             /* 1 us each */
#define HIST_WORDS (HIST_BUCKETS / 64u) /* 1024 bitmap words */
#define HIST_SUMMARY (HIST_WORDS / 64u) /* 16 summary words */
#define HIST_MAX_PCT 4u

struct hist_pct {
	uint32_t permille; /* 500 = p50, 990 = p99 */
	uint32_t bucket;   /* current percentile bucket (when n > 0) */
	uint64_t below;    /* samples in buckets < bucket */
};

struct hist {
	uint64_t n;  /* samples */
	ns_t max_ns; /* largest sample, exact */
	uint32_t n_pct;
	struct hist_pct pct[HIST_MAX_PCT];
	uint64_t summary[HIST_SUMMARY]; /* bit w: bits[w] != 0 */
	uint64_t bits[HIST_WORDS];      /* bit b: count[b] != 0 */
	uint32_t count[HIST_BUCKETS];
};

_Static_assert(HIST_WORDS % 64u == 0, "summary covers whole words");

/* Clears h and tracks the given percentiles (per mille, 1..1000, at most
 * HIST_MAX_PCT). */
void hist_init(struct hist *h, const uint32_t *permille, uint32_t n_pct);

/* Adds one sample. Precondition: fewer than 2^32 samples per bucket. */
void hist_add(struct hist *h, ns_t sample_ns);

/* The i-th tracked percentile in ns: the upper edge of its 1-us bucket,
 * capped at the exact maximum (so it is never below the true value, at most
 * 999 ns above it, and exact when all samples are 0). In the overflow bucket
 * it is the maximum. 0 before the first sample. */
ns_t hist_pct_ns(const struct hist *h, uint32_t i);

/* Verifies every invariant by brute force (O(buckets)): 0 or -1. For
 * tests and debug builds. */
int hist_check(const struct hist *h);

#endif
