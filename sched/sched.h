/*
 * Borrowed-virtual-time (BVT) CPU scheduler: policy only.
 *
 * After Duda & Cheriton (SOSP 1999) and Xen 2.0's sched_bvt.c. The caller
 * (the hypervisor, hvsim, the tests) owns every byte of memory and the clock;
 * this library decides who runs and for exactly how long. It compiles
 * freestanding: no libc, no floats, no heap. docs/scheduler.md explains the
 * algorithm, the units and the defaults; this header is the contract.
 *
 * Calling protocol (one scheduler per CPU, caller-serialised):
 *
 *     sched_init(s, cfg, mem, sched_mem_size(cap), cap, now)
 *     sched_add(s, e, id, params)          a new entity starts blocked
 *     sched_wake(s, e, now)                blocked -> runnable
 *     sched_block(s, e, now)               runnable -> blocked (any entity)
 *     next = sched_pick(s, now, &slice)    after every event above, after a
 *                                          parameter change, and when the
 *                                          previous slice expires
 *
 * sched_pick() charges the running entity for the time since the last call,
 * decides, and returns the entity to run (NULL: idle) and the exact number of
 * nanoseconds until the next decision is needed if nothing else happens
 * (SCHED_SLICE_INF: no timer needed). Time never goes backwards; every call
 * carries `now`, and all time between two calls is charged to exactly one
 * entity or to idle, so  sum(cpu_ns) + idle_ns == now - start  always.
 */
#ifndef SCHED_H
#define SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_types.h"

/* Virtual time advances by t * SCHED_VT_SCALE / cpu_weight for t ns of CPU,
 * so a domain of the default weight accrues virtual time in real ns. A power
 * of two: conversions back to real time are shifts. */
#define SCHED_VT_SCALE_SHIFT 8
#define SCHED_VT_SCALE (1u << SCHED_VT_SCALE_SHIFT)

#define SCHED_WEIGHT_MIN 1u
#define SCHED_WEIGHT_MAX 65535u
#define SCHED_WEIGHT_DEFAULT 256u

/* Limits on the time parameters, in microseconds: one hour (3.6e12 ns).
 * In virtual ns that is at most 3.6e12 * 2^8 < 2^50 at weight 1, so C and W
 * fit in 64 bits; converting back to real time multiplies by the weight
 * (up to 2^16) and uses a 128-bit intermediate. */
#define SCHED_TIME_PARAM_MAX_US 3600000000ull

/* Default context-switch allowance; see docs/scheduler.md for the
 * measurement behind it. */
#define SCHED_CTX_ALLOW_US_DEFAULT 2000u

/* CPU cap bucket: refilled at cpu_cap_pct % of wall time; holds at most one
 * period's worth; an exhausted domain is eligible again once the bucket holds
 * half a period's worth (so a capped domain runs in chunks of at least
 * cap/2 % of a period rather than in nanosecond slivers). */
#define SCHED_CAP_PERIOD_NS (10 * NS_PER_MS)

#define SCHED_SLICE_INF UINT64_MAX

struct sched_params {
	uint32_t cpu_weight;    /* 1..65535; share is weight / sum of weights */
	uint32_t cpu_cap_pct;   /* 0 = no cap, 1..100 = at most this % of a CPU */
	uint64_t warp_us;       /* W: CPU time a warped entity may run ahead of
	                         * its weighted share, us; 0 = no warp */
	uint64_t warp_limit_us; /* L: longest warped run (CPU us); 0 = unlimited */
	uint64_t unwarp_us;     /* U: least unwarped time between two warps */
};

struct sched_config {
	uint64_t ctx_allow_us; /* C: context-switch allowance, real us */
};

/* Per-entity counters. Cumulative, never reset; ready and throttled time is
 * folded in up to `now` by sched_counters(). */
struct sched_counters {
	uint64_t cpu_ns;           /* ran on the CPU */
	uint64_t ready_ns;         /* eligible and runnable, waiting ("steal") */
	uint64_t warped_ns;        /* ran while warped (part of cpu_ns) */
	uint64_t cap_throttled_ns; /* runnable but held back by its cap */
	uint64_t dispatches;       /* times switched to from something else */
	uint64_t wakeups;          /* blocked -> runnable transitions */
};

enum sched_state {
	SCHED_BLOCKED = 0,  /* not runnable; in no heap */
	SCHED_READY,        /* runnable, eligible, waiting: in ready + runnable */
	SCHED_RUNNING,      /* the current entity: in runnable only */
	SCHED_THROTTLED,    /* runnable, cap exhausted: in throttle only */
};

/* A heap slot, 16 bytes: the key lives in the array and the entity is named
 * by a dense handle, so sifting touches only the slot array and the compact
 * position array, never an entity (one cache miss per level at 65536
 * entities otherwise). */
struct sched_slot {
	uint64_t key;
	uint32_t seq; /* FIFO among equal keys (wrap-safe) */
	uint32_t h;   /* entity handle: index into sched.ents */
};

/* One schedulable vCPU. Embedded in the caller's domain; fields are private
 * to sched.c (read them through the functions below). All fields are guarded
 * by the caller's per-CPU scheduler lock. */
struct sched_entity {
	domid_t id;
	enum sched_state state;
	struct sched_params p;

	/* Derived from p at set time, in the units the hot path wants. */
	uint64_t warp_vt;       /* W in this entity's virtual ns */
	uint64_t warp_limit_ns; /* L in ns, UINT64_MAX if unlimited */
	uint64_t unwarp_ns;     /* U in ns */
	uint64_t cap_tokens_max; /* bucket capacity, centi-ns (0: uncapped) */

	uint64_t avt;      /* A: actual virtual time (wraps safely) */
	uint64_t svt_mark; /* SVT when it left the runnable set (see sched.c) */
	uint32_t avt_rem;  /* remainder of t * SCALE / weight, < weight */
	bool warped;
	uint64_t warp_used_ns;  /* CPU run in the current warp */
	ns_t warp_ready_at;     /* earliest time the next warp may start */

	int64_t cap_tokens;  /* centi-ns of CPU; negative = debt */
	ns_t cap_stamp;      /* time cap_tokens was last refilled to */
	ns_t release_at;     /* THROTTLED: when it becomes eligible again */

	ns_t since;          /* when the current state began (ready, throttled) */
	uint32_t seq;        /* FIFO tie-break among equal virtual times */
	uint32_t h;          /* dense handle, 0..cap-1, while registered */

	struct sched_counters c;
};

/* The scheduler of one CPU. Private; the caller only allocates it. */
struct sched {
	struct sched_config cfg;
	uint64_t ctx_allow_ns;
	/* Carved from the caller's buffer by sched_init(): */
	struct sched_slot *heap[3];   /* ready (E), runnable (A), throttle */
	uint32_t *pos[3];             /* heap position per handle, or ~0 */
	struct sched_entity **ents;   /* entity per handle */
	uint32_t *free_h;             /* stack of free handles */
	uint32_t n_heap[3], cap, n_free;
	uint32_t n_entities;
	struct sched_entity *cur;     /* RUNNING entity or NULL (idle) */
	struct sched_entity *preempt; /* woken entity owed the CPU at once */
	struct sched_entity *yielded; /* running entity that waived C */
	ns_t start, last;             /* creation time, last charge time */
	uint64_t busy_ns, idle_ns;          /* charged to entities, to idle */
	uint64_t svt;                 /* last computed SVT, never decreases */
	uint32_t seq;
	uint64_t decisions;
};

/* Bytes of caller memory sched_init() needs for `cap` entities:
 * 3 heaps of 16-byte slots, 3 position arrays, the handle table and the free
 * handle stack, about 72 bytes per entity. */
size_t sched_mem_size(uint32_t cap);

/* Initialise `s` for up to `cap` entities in `mem` (8-byte aligned, at least
 * sched_mem_size(cap) bytes, outliving `s`). FS_EINVAL on a bad config,
 * cap or buffer. */
int sched_init(struct sched *s, const struct sched_config *cfg, void *mem,
               size_t mem_len, uint32_t cap, ns_t now);

/* Validate parameters without applying them: 0 or FS_EINVAL/FS_ERANGE. */
int sched_params_check(const struct sched_params *p);
int sched_config_check(const struct sched_config *cfg);
void sched_params_default(struct sched_params *p);

/* Register `e` (blocked) with `p`. FS_ENOMEM when `cap` entities exist. */
int sched_add(struct sched *s, struct sched_entity *e, domid_t id,
              const struct sched_params *p, ns_t now);
/* Unregister `e` in any state; if it was running the CPU goes idle until the
 * next sched_pick(). */
void sched_remove(struct sched *s, struct sched_entity *e, ns_t now);

/* Change parameters live, keeping virtual time, warp and cap state. The
 * caller must call sched_pick() afterwards. */
int sched_set_params(struct sched *s, struct sched_entity *e,
                     const struct sched_params *p, ns_t now);
int sched_set_config(struct sched *s, const struct sched_config *cfg, ns_t now);

/* Blocked -> runnable after a voluntary block (no-op if already runnable).
 * Applies A = max(A, SVT) and starts a warp if allowed. Returns true when the
 * woken entity must preempt the running one at once (exempt from the
 * context-switch allowance); the caller calls sched_pick() either way. */
bool sched_wake(struct sched *s, struct sched_entity *e, ns_t now);

/* The running entity `e` gives up the rest of its context-switch allowance:
 * the next sched_pick() hands the CPU to the head of the queue if its E is
 * at or below e's (ties go to the waiting entity), and keeps e only if it
 * is still strictly first. No-op if e is not running. Yielding never earns
 * anything: virtual time is charged as always. */
/* (Not "sched_yield": that is POSIX's, and hosted builds link libc.) */
void sched_yield_slice(struct sched *s, struct sched_entity *e, ns_t now);

/* Runnable -> blocked (no-op if blocked). Ends any warp. */
void sched_block(struct sched *s, struct sched_entity *e, ns_t now);

/* Charge the running entity (or idle) for the time up to `now`. Called by
 * every other function; exposed so the caller can read exact counters. */
void sched_charge(struct sched *s, ns_t now);

/* Decide. Returns the entity to run (state RUNNING) or NULL for idle, and
 * in *slice_ns the exact time until the next decision (>= 1, or
 * SCHED_SLICE_INF). */
struct sched_entity *sched_pick(struct sched *s, ns_t now, uint64_t *slice_ns);

/* Counters of `e` with pending ready/throttled time folded in up to `now`
 * (which must be >= the last call's time). */
void sched_counters(const struct sched *s, const struct sched_entity *e,
                    ns_t now, struct sched_counters *out);

uint64_t sched_idle_ns(const struct sched *s);
uint64_t sched_decisions(const struct sched *s);
struct sched_entity *sched_current(const struct sched *s);
uint32_t sched_nr_runnable(const struct sched *s); /* incl. throttled */

/* System virtual time: the minimum A over eligible runnable entities. */
uint64_t sched_svt(const struct sched *s);

/* Verify the whole state (heap order and indices, states, SVT, the time
 * invariant). Returns NULL if sound, else a static string naming the first
 * broken invariant. Runs under FS_ASSERT at every call in FS_DEBUG builds. */
const char *sched_check(const struct sched *s);

#endif
