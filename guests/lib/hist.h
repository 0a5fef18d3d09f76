/*
 * A latency histogram with running percentiles, log-linear: exact below
 * 256 ns and within 1/128 (0.8%) above.
 *
 * Bucket layout (HdrHistogram's, with 7 sub-bucket bits): samples below
 * 128 ns have a bucket each; every power-of-two range [2^e, 2^(e+1)) above
 * is cut into 128 equal buckets of 2^(e-7) ns. So a bucket near 1 us is
 * 4 ns wide, near 10 us 64 ns and near 10 ms 64 us: a scheduler's wake
 * lateness is resolved to well under 1% whether it is 900 ns or 9 ms (the
 * 1-us buckets this replaced could not tell 1.0 from 1.9 us). 4096 buckets
 * cover 0 .. 2^38 ns (275 s); the last bucket also takes everything beyond
 * (the overflow bucket). Percentiles are nearest-rank: the p-th percentile
 * is the smallest bucket b such that at least ceil(n * p / 1000) samples
 * lie in buckets <= b (p in per mille).
 *
 * Each tracked percentile keeps its bucket and the number of samples below
 * it. One new sample moves the rank by at most one and the "below" count by
 * at most one, so the bucket moves to at most the next (or previous)
 * non-empty bucket: an O(1) step, found through a two-level bitmap of
 * non-empty buckets (64 words, and a one-word summary of non-empty words).
 * hist_add() costs a few dozen instructions per tracked percentile.
 *
 * Memory is the caller's (a static, ~17 KiB; it starts zeroed in .bss, or
 * call hist_init). No allocation, no floating point, no calls.
 */
#ifndef GUEST_HIST_H
#define GUEST_HIST_H

#include <stdint.h>

#include "fs_types.h"

#define HIST_SUB_BITS 7u /* 128 buckets per octave */
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS 4096u              /* 32 octaves of 128: < 2^38 ns */
#define HIST_WORDS (HIST_BUCKETS / 64u) /* 64 bitmap words */
#define HIST_SUMMARY (HIST_WORDS / 64u) /* 1 summary word */
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
_Static_assert(HIST_BUCKETS % HIST_SUB == 0, "whole octaves");

/* Clears h and tracks the given percentiles (per mille, 1..1000, at most
 * HIST_MAX_PCT). */
void hist_init(struct hist *h, const uint32_t *permille, uint32_t n_pct);

/* Adds one sample. Precondition: fewer than 2^32 samples per bucket. */
void hist_add(struct hist *h, ns_t sample_ns);

/* The bucket of a sample, and the last ns a bucket holds (its upper
 * edge; the overflow bucket's is UINT64_MAX). */
uint32_t hist_bucket(ns_t sample_ns);
ns_t hist_bucket_last_ns(uint32_t bucket);

/* The i-th tracked percentile in ns: the upper edge of its bucket, capped
 * at the exact maximum (so it is never below the true value, exact below
 * 256 ns and at most 1/128 of it above, and exact when all samples lie in
 * one bucket). In the overflow bucket it is the maximum. 0 before the
 * first sample. */
ns_t hist_pct_ns(const struct hist *h, uint32_t i);

/* Verifies every invariant by brute force (O(buckets)): 0 or -1. For
 * tests and debug builds. */
int hist_check(const struct hist *h);

#endif
