/*
 * Per-domain usage counters and the delta rules billing is built on.
 *
 * The hypervisor keeps one struct usage_counters per domain: cumulative u64
 * counters that only grow during a boot, plus one gauge (mem_pages). It sends
 * them, stamped with its boot id and monotonic time, as a usage_sample; the
 * consumer (billingd, hvsim reports) turns consecutive samples into
 * per-interval deltas with usage_delta(). Because the counters are
 * cumulative, a lost sample only makes the next delta cover two intervals and
 * a duplicated one yields a zero delta: neither changes a bill. A new boot id
 * marks a reset (the new counters are the delta).
 *
 * The field order is part of the management-link wire format
 * (accounting/wire.*): never reorder, insert or remove fields.
 *
 * mem_page_ns wraps: see usage_mem_set() and docs/accounting.md.
 */
#ifndef COUNTERS_H
#define COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "fs_types.h"

#define USAGE_NFIELDS 14

/* Units in the names; all cumulative for the life of a boot except
 * mem_pages. Guarded by whoever owns the domain (the caller serialises). */
struct usage_counters {
	uint64_t cpu_ns;           /* ran on a CPU */
	uint64_t ready_ns;         /* runnable but waiting for a CPU (steal) */
	uint64_t cap_throttled_ns; /* runnable but held back by its CPU cap */
	uint64_t warped_ns;        /* ran while warped (latency boost) */
	uint64_t dispatches;       /* times put on a CPU */
	uint64_t wakeups;          /* blocked -> runnable transitions */
	uint64_t hypercalls;       /* hypercalls issued */
	uint64_t blk_read_ops;     /* block read requests completed */
	uint64_t blk_write_ops;    /* block write requests completed */
	uint64_t blk_read_bytes;   /* bytes read */
	uint64_t blk_write_bytes;  /* bytes written */
	uint64_t blk_throttled_ns; /* block requests held by the token buckets,
	                            * summed over requests */
	uint64_t mem_pages;        /* GAUGE: 4 KiB pages currently assigned */
	uint64_t mem_page_ns;      /* integral of mem_pages over time, in
	                            * page-nanoseconds, modulo 2^64 */
};

_Static_assert(sizeof(struct usage_counters) == USAGE_NFIELDS * 8,
               "usage_counters must be USAGE_NFIELDS packed u64s");

/* Index of mem_pages, the one gauge. */
#define USAGE_FIELD_MEM_PAGES 12u
/* Index of mem_page_ns, the one counter that wraps (differenced mod 2^64). */
#define USAGE_FIELD_MEM_PAGE_NS 13u

/* One METER record's worth for one domain. */
struct usage_sample {
	uint64_t boot_id; /* changes on every hypervisor boot */
	ns_t ns;          /* hypervisor monotonic time of the snapshot */
	struct usage_counters c;
};

/* Generic access for tools and the wire format, i = 0 .. USAGE_NFIELDS-1 in
 * struct order. Out-of-range i: NULL from the two pointer functions, false
 * from usage_field_is_gauge(). */
const char *usage_field_name(unsigned i);
uint64_t *usage_field(struct usage_counters *c, unsigned i);
/* Value of field i; i must be < USAGE_NFIELDS (a bug otherwise). */
uint64_t usage_field_get(const struct usage_counters *c, unsigned i);
/* True for gauges (mem_pages): current values, not differenced. */
bool usage_field_is_gauge(unsigned i);

/* Change the mem_pages gauge to `pages` at `now`, first adding the old value
 * times the time since *stamp to mem_page_ns, exactly (modulo 2^64), then
 * setting *stamp = now. The caller keeps *stamp next to the counters and
 * initialises it to the time mem_pages was last set (usually domain
 * creation, with mem_pages 0). Call with the same `pages` to bring the
 * integral up to date before a sample. A `now` before *stamp adds nothing and
 * leaves *stamp.
 *
 * mem_page_ns wraps: 2^64 page-ns is 2^64 / pages ns, about 4.9 hours for a
 * 4 GiB domain (2^20 pages). usage_delta() differences it modulo 2^64, which
 * is exact as long as two samples that are differenced are less than one
 * wrap period apart. */
void usage_mem_set(struct usage_counters *c, uint64_t pages, ns_t now,
                   ns_t *stamp);

/* Bit set in usage_delta()'s result when prev is NULL or from another boot. */
#define USAGE_DELTA_NEW_BOOT (1 << 30)

/*
 * The usage between two samples of one domain, into *out.
 *   - prev NULL, or a different boot id: the current counters ARE the delta
 *     (a reset, never a negative delta); returns USAGE_DELTA_NEW_BOOT.
 *   - same boot: each counter's delta is cur - prev. A counter that went
 *     backwards is taken as reset (its delta is its current value) and bit i
 *     of the result is set. mem_page_ns is differenced modulo 2^64 (it
 *     wraps, see usage_mem_set()), so it is never reported as a reset.
 *   - gauges (mem_pages) are not differenced: out carries the current value.
 *   - same boot but cur older than prev (cur->ns < prev->ns): a stale,
 *     resent or reordered sample; returns FS_EINVAL, *out zeroed. The caller
 *     keeps prev as its reference.
 * A duplicated sample gives a zero delta (gauges aside) and returns 0.
 * Returns the non-negative mask above, or FS_EINVAL.
 */
int usage_delta(const struct usage_sample *prev, const struct usage_sample *cur,
                struct usage_counters *out);

#endif
