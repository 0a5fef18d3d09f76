/*
 * The I/O model of an hvsim `io` domain, engine-independent: a small state
 * machine the engine (sim.c) drives at the instants it chooses, and which
 * tells it when it next needs to be called. Internal to the engine.
 *
 * The guest keeps queue_depth requests outstanding. Each slot cycles:
 *
 *   free (the guest needs io_cpu_us of CPU to issue the next request)
 *     -> queued (issued, waiting in FIFO order for the token bucket pair;
 *        the head is retried exactly at the retry time the pair returned)
 *     -> in flight (admitted and charged; the disk completes it
 *        disk_latency_us later)
 *     -> free again.
 *
 * Nothing is dropped. With io_cpu_us = 0 a freed slot is issued at once.
 * Completions come out in admission order (the service time is fixed), so
 * the in-flight set is a ring of completion times. Whether a request is a
 * read is decided by its sequence number (Bresenham on io_mix), so the mix
 * is exact and deterministic.
 */
#ifndef HVSIM_SIM_IO_H
#define HVSIM_SIM_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "accounting/tb.h"
#include "scenario.h"
#include "sim.h"

struct io_rt {
	const struct scn_io *cfg;
	struct tb_pair tb;
	uint64_t cpu_ns, lat_ns;
	uint32_t free;       /* slots whose next request needs guest CPU */
	uint32_t queued;     /* issued, waiting for the buckets (FIFO) */
	uint32_t inflight;   /* admitted, at the disk */
	uint32_t head;       /* ring index of the oldest in-flight request */
	uint64_t *done_at;   /* ring of queue_depth completion times */
	uint64_t retry_at;   /* head refused until then; UINT64_MAX if not */
	uint64_t held_since; /* head held by the buckets since; or UINT64_MAX */
	struct sim_io st;
};

/* Set up `io` for domain `sd` (workload io) at time `now` with every slot
 * free and full buckets, then issue what needs no CPU. Returns 0, or -1 (out
 * of memory, or bucket settings tb_pair_init() refuses; the scenario
 * validation excludes both). io_free() either way. */
int io_init(struct io_rt *io, const struct scn_domain *sd, uint64_t now);

/* The limits in io->cfg (bps, iops, burst_bytes, burst_ops) changed: apply
 * them live with tb_pair_reconfigure() at `now` and retry the queue head.
 * Returns 0 or FS_ERANGE (then nothing changed). */
int io_reconfigure(struct io_rt *io, uint64_t now);
void io_free(struct io_rt *io);

/* True while the guest has a request to prepare: it needs the CPU. */
bool io_wants_cpu(const struct io_rt *io);

/* The guest has used io_cpu_us of CPU for one request at `now`: issue it.
 * Requires io_wants_cpu(). */
void io_submit(struct io_rt *io, uint64_t now);

/* Process everything due at `now` (completions, the head's retry time).
 * `now` never goes backwards between calls. */
void io_advance(struct io_rt *io, uint64_t now);

/* When io_advance() must next be called: the earliest completion or retry
 * time, UINT64_MAX if none is pending. */
uint64_t io_next_event(const struct io_rt *io);

/* The counters at `end`, with the head's current hold counted up to `end`. */
void io_result(const struct io_rt *io, uint64_t end, struct sim_io *out);

#endif
