/*
 * hvsim scenario files: what to simulate.
 *
 * Line-based, '#' starts a comment, blank lines ignored:
 *
 *     duration_ms 10000          # default 10000
 *     ctx_allow_us 2000          # default SCHED_CTX_ALLOW_US_DEFAULT
 *     domain name=web1 cpu_weight=256 workload=cpu
 *
 * A `domain` line takes key=value pairs: name (required, 1..31 of
 * [A-Za-z0-9_.-], unique), workload (required: cpu, periodic, onoff, io), the
 * scheduler parameters (cpu_weight, cpu_cap_pct, warp_us, warp_limit_us,
 * unwarp_us) and the workload's own keys (periodic: period_us, burst_us,
 * phase_us; onoff: on_us, off_us; io: req_bytes, io_bps, io_iops,
 * io_burst_bytes, io_burst_ops, io_mix, queue_depth, io_cpu_us,
 * disk_latency_us). Unknown keys, keys repeated on a line, keys that do not
 * belong to the workload, malformed or out-of-range numbers and duplicate
 * names are errors reported as "FILE:LINE: reason". docs/hvsim.md is the
 * full reference (units, defaults, ranges, the I/O model).
 */
#ifndef HVSIM_SCENARIO_H
#define HVSIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "sched/sched.h"

#define SCN_NAME_MAX 31
#define SCN_DURATION_MAX_MS (1000ull * 3600 * 24 * 366) /* a leap year */

enum workload {
	WL_CPU,      /* always runnable */
	WL_PERIODIC, /* every period_us needs burst_us of CPU, then blocks */
	WL_ONOFF,    /* runs on_us of CPU, blocks off_us, repeats */
	WL_IO,       /* block requests through a token bucket pair */
};

/* I/O workload limits (docs/hvsim.md). */
#define SCN_REQ_BYTES_MIN 512ull
#define SCN_REQ_BYTES_MAX (4ull << 20) /* 4 MiB */
#define SCN_QUEUE_DEPTH_MAX 256ull
#define SCN_IO_TIME_MAX_US 1000000ull /* io_cpu_us, disk_latency_us: 1 s */
/* Bucket capacity: max(one request, this many ms of the rate). */
#define SCN_IO_BUCKET_MS 10ull

/* An `io` domain's settings; all u64 so the key table can store them. */
struct scn_io {
	uint64_t req_bytes;   /* bytes per request, required */
	uint64_t bps, iops;   /* bucket rates; 0 = unlimited */
	uint64_t burst_bytes; /* one-time credit on top of the bytes bucket */
	uint64_t burst_ops;   /* ... and of the ops bucket */
	uint64_t mix_read_pct; /* io_mix: % of requests that are reads */
	uint64_t queue_depth; /* requests the guest keeps outstanding */
	uint64_t cpu_us;      /* guest CPU to issue (and reap) one request */
	uint64_t latency_us;  /* disk service time of an admitted request */
};

struct scn_domain {
	char name[SCN_NAME_MAX + 1];
	unsigned line;
	struct sched_params sp;
	enum workload wl;
	uint64_t period_us, burst_us, phase_us; /* periodic */
	uint64_t on_us, off_us;                 /* onoff */
	struct scn_io io;                       /* io */
};

/* Defaults for a programmatically built domain: sched_params_default() and
 * the io defaults (io_mix 100, queue_depth 1, io_cpu_us 5,
 * disk_latency_us 100). The parser starts every domain line from these. */
void scn_domain_defaults(struct scn_domain *d);

/* The token bucket capacities of an io domain (docs/hvsim.md):
 * bytes: max(req_bytes, io_bps * SCN_IO_BUCKET_MS / 1000),
 * ops: max(1, io_iops * SCN_IO_BUCKET_MS / 1000). */
uint64_t scn_io_capacity_bytes(const struct scn_io *io);
uint64_t scn_io_capacity_ops(const struct scn_io *io);

struct scenario {
	uint64_t duration_ms;
	struct sched_config cfg;
	struct scn_domain *doms;
	size_t n, cap;
};

/* Parse `text` (NUL-terminated). On error returns -1 and writes
 * "FILE:LINE: reason" into err. The scenario must be freed with
 * scenario_free() either way. */
int scenario_parse(const char *text, const char *file, struct scenario *sc,
                   char *err, size_t errlen);
int scenario_load(const char *path, struct scenario *sc, char *err,
                  size_t errlen);
void scenario_free(struct scenario *sc);

/* Append a domain programmatically (tests, generators): validates like the
 * parser. Returns -1 with err set on failure. */
int scenario_add(struct scenario *sc, const struct scn_domain *d, char *err,
                 size_t errlen);
void scenario_init(struct scenario *sc);
/* Make room for `cap` entries, so that appending up to that many never moves
 * them. 0 or -1 (out of memory). */
int scenario_reserve(struct scenario *sc, size_t cap);

const char *workload_name(enum workload wl);

#endif
