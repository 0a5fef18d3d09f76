/*
 * Desired state: each domain's shares and limits as the operator wants
 * them, kept in SQLite (table desired) and pushed to the hypervisor with
 * SET_SHARES / SET_IO_LIMITS / SET_MEM_LIMITS whenever it says HELLO (a new
 * boot, or a reconnect) and whenever the desired state changes while the
 * link is up.
 *
 * Each key is either managed (a value) or not (NULL: the hypervisor's
 * current value is kept); a SET_* command is built from the domain's
 * current entry with the managed keys overlaid. Every change bumps the
 * row's generation; a push whose every RESP says 0 marks that generation
 * applied to that boot (applied_generation, applied_boot). A refused push
 * records the status in last_status and is not retried until the desired
 * state changes again or the hypervisor says HELLO.
 *
 * billingd_set_desired() is the one entry point for the operator's changes:
 * the `billingd --set` command line and issue 7's REST API both call it.
 *
 * Quota throttles (quota.c, docs/billing.md section 6) are an overlay:
 * the table keeps the operator's values, desired_load() returns the
 * effective ones. While a throttle is in force each of its keys is the
 * more restrictive of the operator's value and the throttle's (for
 * cpu_cap_pct, io_bps and io_iops 0 means unlimited, the least
 * restrictive). A key the operator does not manage that was throttled is
 * afterwards set to the hypervisor's neutral value (cpu_weight 256, no
 * cap, unlimited I/O: the hypervisor's value before the throttle is not
 * known here), recorded in desired.quota_released. Starting or lifting a
 * throttle bumps the row's generation (desired_bump()), so the session
 * pushes the change like any other.
 */
#ifndef BILLINGD_DESIRED_H
#define BILLINGD_DESIRED_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "tools/link/kv.h"

struct desired_row {
	int64_t domain; /* domains.id */
	char name[WIRE_NAME_FIELD];
	struct kv_params p; /* managed keys (no memory_mb) */
	int64_t generation;
};

/* Make the keys given in p (groups sched, io, mem) managed with their
 * values for the domain called name (created in the domains table if new).
 * Uses the open transaction, or its own. 0, or -1 with err. */
int billingd_set_desired(struct store *st, const char *name,
                         const struct kv_params *p, char *err, size_t errlen);

/* Stop managing the keys given in p (NULL: all) for name. */
int billingd_clear_desired(struct store *st, const char *name,
                           const struct kv_params *p, char *err, size_t errlen);

/* Every desired row, with the throttles in force overlaid (the effective
 * values), into a malloc'd array. 0 or -1. */
int desired_load(struct store *st, struct desired_row **rows, size_t *n);

/* One domain's effective values, as desired_load() gives them (what is
 * pushed, throttles included): for the REST API, which shows them next
 * to the operator's. eff->set empty if the domain has no desired row. 0
 * or -1. */
int desired_effective(struct store *st, int64_t domain, struct kv_params *eff);

/* Record the outcome of pushing `generation` of domain to boot boot_id:
 * status 0 marks it applied (if the generation is still current), else
 * records the refusal. Needs an open transaction. 0 or -1. */
/* A throttle of domain started or ended: bump (or create) its desired row
 * and add the kv key bits `released` to its quota_released mask. Needs an
 * open transaction. 0 or -1. */
int desired_bump(struct store *st, int64_t domain, uint32_t released);

int desired_mark(struct store *st, int64_t domain, int64_t generation,
                 uint64_t boot_id, int status);

#endif
