/*
 * Running-percentile histogram (design in hist.h).
 *
 * Invariants (checked by hist_check()):
 *   1. bits[] has bit b set iff count[b] != 0; summary has bit w set iff
 *      bits[w] != 0.
 *   2. n is the sum of count[]; max_ns is the largest sample added.
 *   3. For each tracked percentile with rank r = ceil(n * permille / 1000):
 *      below == sum of count[0 .. bucket-1] and
 *      below < r <= below + count[bucket] (so count[bucket] != 0).
 *
 * Why one step suffices: adding a sample in bucket s raises r by 0 or 1.
 * If s < bucket, below rises by 1 too; then r may equal below, and the
 * percentile moves down to the previous non-empty bucket. If s > bucket,
 * r may exceed below + count[bucket], and it moves up to the next
 * non-empty bucket (s at the latest). Either way one move restores 3.
 */
#include "hist.h"

#include "fs_assert.h"
#include "string.h"

static uint32_t ctz64(uint64_t x)
{
	return (uint32_t)__builtin_ctzll(x);
}

static uint32_t msb64(uint64_t x)
{
	return 63u - (uint32_t)__builtin_clzll(x);
}

/* The smallest non-empty bucket >= from. Precondition: one exists. */
static uint32_t next_set(const struct hist *h, uint32_t from)
{
	uint32_t w = from / 64u, s;
	uint64_t m = h->bits[w] & (~0ull << (from % 64u));

	if (m != 0)
		return w * 64u + ctz64(m);
	w++;
	FS_BUG_ON(w >= HIST_WORDS);
	s = w / 64u;
	m = h->summary[s] & (~0ull << (w % 64u));
	while (m == 0) {
		s++;
		FS_BUG_ON(s >= HIST_SUMMARY);
		m = h->summary[s];
	}
	w = s * 64u + ctz64(m);
	return w * 64u + ctz64(h->bits[w]);
}

/* The largest non-empty bucket <= from. Precondition: one exists. */
static uint32_t prev_set(const struct hist *h, uint32_t from)
{
	uint32_t w = from / 64u, s;
	uint64_t m = h->bits[w] & (~0ull >> (63u - from % 64u));

	if (m != 0)
		return w * 64u + msb64(m);
	FS_BUG_ON(w == 0);
	w--;
	s = w / 64u;
	m = h->summary[s] & (~0ull >> (63u - w % 64u));
	while (m == 0) {
		FS_BUG_ON(s == 0);
		s--;
		m = h->summary[s];
	}
	w = s * 64u + msb64(m);
	return w * 64u + msb64(h->bits[w]);
}

uint32_t hist_bucket(ns_t v)
{
	uint32_t e, b;

	if (v < HIST_SUB)
		return (uint32_t)v;
	e = msb64(v); /* >= HIST_SUB_BITS */
	b = (e - HIST_SUB_BITS + 1u) * HIST_SUB +
	    (uint32_t)(v >> (e - HIST_SUB_BITS)) - HIST_SUB;
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1u;
}

ns_t hist_bucket_last_ns(uint32_t b)
{
	uint32_t octave = b / HIST_SUB, shift;

	if (b >= HIST_BUCKETS - 1u)
		return UINT64_MAX;
	if (octave == 0)
		return b;
	shift = octave - 1u; /* bucket width is 2^shift */
	return (((ns_t)(HIST_SUB + b % HIST_SUB) + 1u) << shift) - 1u;
}

static uint64_t rank(uint64_t n, uint32_t permille)
{
	return (n * permille + 999u) / 1000u;
}

void hist_init(struct hist *h, const uint32_t *permille, uint32_t n_pct)
{
	FS_BUG_ON(n_pct > HIST_MAX_PCT);
	memset(h, 0, sizeof(*h));
	h->n_pct = n_pct;
	for (uint32_t i = 0; i < n_pct; i++) {
		FS_BUG_ON(permille[i] == 0 || permille[i] > 1000u);
		h->pct[i].permille = permille[i];
	}
}

void hist_add(struct hist *h, ns_t sample_ns)
{
	uint32_t b = hist_bucket(sample_ns);

	h->count[b]++;
	h->bits[b / 64u] |= 1ull << (b % 64u);
	h->summary[b / 4096u] |= 1ull << (b / 64u % 64u);
	h->n++;
	if (sample_ns > h->max_ns)
		h->max_ns = sample_ns;

	for (uint32_t i = 0; i < h->n_pct; i++) {
		struct hist_pct *p = &h->pct[i];
		uint64_t r = rank(h->n, p->permille);

		if (h->n == 1) {
			p->bucket = b;
			p->below = 0;
			continue;
		}
		if (b < p->bucket)
			p->below++;
		if (r <= p->below) {
			p->bucket = prev_set(h, p->bucket - 1u);
			p->below -= h->count[p->bucket];
		} else if (r > p->below + h->count[p->bucket]) {
			p->below += h->count[p->bucket];
			p->bucket = next_set(h, p->bucket + 1u);
		}
	}
}

ns_t hist_pct_ns(const struct hist *h, uint32_t i)
{
	ns_t edge;

	if (h->n == 0 || i >= h->n_pct)
		return 0;
	edge = hist_bucket_last_ns(h->pct[i].bucket);
	return edge < h->max_ns ? edge : h->max_ns;
}

int hist_check(const struct hist *h)
{
	uint64_t n = 0;

	for (uint32_t w = 0; w < HIST_WORDS; w++) {
		uint64_t m = 0;

		for (uint32_t j = 0; j < 64u; j++) {
			if (h->count[w * 64u + j] != 0)
				m |= 1ull << j;
			n += h->count[w * 64u + j];
		}
		if (m != h->bits[w])
			return -1;
		if (((h->summary[w / 64u] >> (w % 64u)) & 1u) != (m != 0))
			return -1;
	}
	if (n != h->n || h->n_pct > HIST_MAX_PCT)
		return -1;
	for (uint32_t i = 0; i < h->n_pct && n > 0; i++) {
		const struct hist_pct *p = &h->pct[i];
		uint64_t below = 0, r = rank(n, p->permille);

		if (p->bucket >= HIST_BUCKETS)
			return -1;
		for (uint32_t b = 0; b < p->bucket; b++)
			below += h->count[b];
		if (below != p->below || !(below < r) ||
		    !(r <= below + h->count[p->bucket]))
			return -1;
	}
	return 0;
}
