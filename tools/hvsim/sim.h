/*
 * The hvsim engine: runs the real sched/ code against simulated domains in
 * virtual time.
 *
 * Discrete-event loop on a nanosecond clock. The only events are the ones a
 * hypervisor would see: a slice expiring (the APIC timer), a domain blocking
 * after using the CPU its workload needed, a blocked domain's wake-up time
 * arriving, and a periodic domain's next period starting. After each batch of
 * events at one instant the engine calls sched_pick() exactly as the
 * hypervisor will, and runs the chosen domain until the next event. Nothing
 * is sampled on ticks, so every figure is exact.
 *
 * An `io` domain adds three more: a block request finishing at the disk, the
 * exact time its token bucket pair will admit the request at the head of its
 * queue, and its CPU work to issue a request being done (the same "used the
 * CPU it needed" event). The model is in sim_io.h and docs/hvsim.md.
 *
 * Used by the hvsim program and linked into the tests, which observe every
 * decision through sim_opts.on_decision.
 */
#ifndef HVSIM_SIM_H
#define HVSIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "accounting/counters.h"
#include "scenario.h"
#include "sched/sched.h"

struct sim;

struct sim_opts {
	bool check; /* sched_check() after every decision (slow: O(n)) */
	bool no_latency; /* keep no wake-latency samples (serve mode: they
	                  * would grow without bound) */
	/* Called after every sched_pick(), with the chosen domain index or
	 * -1 for idle. */
	void (*on_decision)(void *ctx, const struct sim *sim, uint64_t now,
	                    int running);
	void *ctx;
};

struct sim_latency {
	uint64_t n, p50, p99, max; /* wake to first dispatch, ns */
};

/* Block I/O of an `io` domain (all zero for other workloads). Completed
 * requests count; at the end of the run every request the guest issued is
 * either completed, queued (waiting for the buckets) or in flight (admitted,
 * at the disk): issued == ops + queued + inflight, nothing is dropped. */
struct sim_io {
	uint64_t read_ops, write_ops;     /* completed */
	uint64_t read_bytes, write_bytes; /* completed */
	uint64_t issued;       /* requests the guest handed to its device */
	uint64_t throttled_ns; /* time the head of the queue was held back by
	                        * the buckets (not summed over requests) */
	uint64_t queued, inflight; /* at the end of the run */
};

static inline uint64_t sim_io_ops(const struct sim_io *io)
{
	return io->read_ops + io->write_ops;
}

static inline uint64_t sim_io_bytes(const struct sim_io *io)
{
	return io->read_bytes + io->write_bytes;
}

struct sim_domain_result {
	struct sched_counters c;
	struct sim_latency lat; /* n == 0 for domains that never block */
	struct sim_io io;
};

struct sim_result {
	uint64_t duration_ns, idle_ns, decisions;
	size_t n;
	struct sim_domain_result *doms; /* scenario order */
};

/* Run `sc` to its duration. Returns 0, or -1 if memory ran out or a
 * sched_check() failed (the reason is printed to stderr). */
int sim_run(const struct scenario *sc, const struct sim_opts *o,
            struct sim_result *r);
void sim_result_free(struct sim_result *r);

/* For on_decision observers: exact counters of domain i at `now`. */
void sim_counters(const struct sim *sim, size_t i, uint64_t now,
                  struct sched_counters *out);
size_t sim_ndomains(const struct sim *sim); /* domains added so far */
uint32_t sim_nr_runnable(const struct sim *sim); /* incl. cap-throttled */
enum sched_state sim_state(const struct sim *sim, size_t i);
const struct scenario *sim_scenario(const struct sim *sim);

/*
 * Step by step, for hvsim --serve-link (tools/hvsim/serve.c), where a
 * controller creates, destroys, pauses and reconfigures domains while the
 * simulation runs. sim_run() is sim_open() + sim_advance(duration) + the
 * results, so both modes run the same engine.
 *
 * Domain i is scenario entry i and scheduler entity i + 1 (the link's
 * domid). Indices are never reused: a removed domain keeps its slot, and its
 * usage frozen at removal. The scenario's entries must not move while the
 * sim is open (the io model points into them): reserve `cap` entries first
 * (scenario_reserve()).
 */

/* Start `sc`'s domains at time 0, with room for `cap` >= sc->n domains in
 * all. NULL if out of memory or cap is out of range. */
struct sim *sim_open(const struct scenario *sc, const struct sim_opts *o,
                     size_t cap);
void sim_close(struct sim *sim);

/* Run until `until` (no-op if not later than now). 0, or -1 if a
 * sched_check() failed or memory ran out. */
int sim_advance(struct sim *sim, uint64_t until);
uint64_t sim_now(const struct sim *sim);
uint64_t sim_decisions(const struct sim *sim);
uint64_t sim_idle_ns(const struct sim *sim);

/* Start the domain the caller has just appended to the scenario (entry
 * sim_ndomains()) at now. Its index, or -1 (no room, or out of memory). */
int sim_add_domain(struct sim *sim);
/* Stop domain i for good at now; its usage stays readable. */
void sim_remove_domain(struct sim *sim, size_t i);
bool sim_active(const struct sim *sim, size_t i);
bool sim_paused(const struct sim *sim, size_t i);
/* Hold domain i off the CPU / let it run again. FS_EBUSY if it already
 * is / is not paused, FS_ENOENT if removed. Its workload's clock goes on
 * (timers, the disk): work that arrives while paused waits. */
int sim_pause(struct sim *sim, size_t i);
int sim_unpause(struct sim *sim, size_t i);
/* Scheduler parameters, live: 0 or FS_EINVAL / FS_ERANGE (nothing
 * changed). */
int sim_set_params(struct sim *sim, size_t i, const struct sched_params *p);
/* The caller changed the io limits in the scenario entry of domain i:
 * apply them live (no-op for other workloads). 0 or FS_ERANGE. */
int sim_io_reconfigure(struct sim *sim, size_t i);
/* The memory gauge of domain i (4 KiB pages), integrated exactly from now
 * on (usage_mem_set()). */
void sim_set_mem_pages(struct sim *sim, size_t i, uint64_t pages);
/* Domain i's usage counters at now (at its removal, if removed), as the
 * hypervisor keeps them: the scheduler's counters; hypercalls = blocks +
 * I/O submissions; blk_* from the io model (blk_throttled_ns is the
 * head-of-line figure, see docs/hvsim.md); the memory gauge and integral. */
void sim_usage(struct sim *sim, size_t i, struct usage_counters *out);

#endif
