/*
 * The settable per-domain keys of the management link, as `key=value` words
 * on command lines (hvctl set / create, billingd --set) and as billingd's
 * desired state: one table of names, groups and ranges, so every tool
 * refuses the same values the hypervisor would (the ranges are those of
 * docs/management-protocol.md and hypervisor/common/domcfg.c).
 *
 * A struct kv_params holds any subset of the keys (bit k of `set` says key
 * k was given); kv_apply_*() overlay the given ones on a domain's current
 * values to build a complete SET_SHARES / SET_IO_LIMITS / SET_MEM_LIMITS.
 */
#ifndef LINK_KV_H
#define LINK_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/wire.h"

enum kv_key {
	KV_CPU_WEIGHT, /* sched group */
	KV_CPU_CAP_PCT,
	KV_WARP_US,
	KV_WARP_LIMIT_US,
	KV_UNWARP_US,
	KV_IO_BPS, /* io group */
	KV_IO_IOPS,
	KV_IO_BURST_BYTES,
	KV_IO_BURST_OPS,
	KV_MEMORY_MAX_MB, /* mem group */
	KV_MEM_GROWTH_PAGES_PER_S,
	KV_MEM_GROWTH_BURST_PAGES,
	KV_MEMORY_MB, /* CREATE only */
	KV_NKEYS
};

enum kv_group { KV_G_SCHED = 1, KV_G_IO = 2, KV_G_MEM = 4, KV_G_CREATE = 8 };

struct kv_params {
	uint32_t set; /* bit k: key k given */
	uint64_t v[KV_NKEYS];
};

const char *kv_name(unsigned k);
enum kv_group kv_group_of(unsigned k);
/* The key named `name`, or -1. */
int kv_lookup(const char *name);
/* Range of key k. */
void kv_range(unsigned k, uint64_t *min, uint64_t *max);

/* Parse one "key=value" word into p (decimal, in range). 0, or -1 with
 * "reason" in err. `groups` limits the keys accepted. */
int kv_parse(struct kv_params *p, const char *word, unsigned groups, char *err,
             size_t errlen);
/* Set key k to v, checking the range: 0 or -1 with err. */
int kv_set(struct kv_params *p, unsigned k, uint64_t v, char *err,
           size_t errlen);
/* Any key of the group given? */
bool kv_has(const struct kv_params *p, enum kv_group g);

/* Overlay the given keys on the current values. */
void kv_apply_sched(const struct kv_params *p, struct wire_sched_params *s);
void kv_apply_io(const struct kv_params *p, struct wire_io_limits *io);
void kv_apply_mem(const struct kv_params *p, struct wire_mem_limits *m);

/* All keys of a domain entry as a kv_params (every bit set but
 * memory_mb's, which is set too). */
void kv_from_domain(const struct wire_domain *d, struct kv_params *p);

#endif
