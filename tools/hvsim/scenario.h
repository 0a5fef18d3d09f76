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
 * [A-Za-z0-9_.-], unique), workload (required: cpu, periodic, onoff), the
 * scheduler parameters (cpu_weight, cpu_cap_pct, warp_us, warp_limit_us,
 * unwarp_us) and the workload's own keys (periodic: period_us, burst_us,
 * phase_us; onoff: on_us, off_us). Unknown keys, keys repeated on a line,
 * keys that do not belong to the workload, malformed or out-of-range numbers
 * and duplicate names are errors reported as "FILE:LINE: reason".
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
};

struct scn_domain {
	char name[SCN_NAME_MAX + 1];
	unsigned line;
	struct sched_params sp;
	enum workload wl;
	uint64_t period_us, burst_us, phase_us; /* periodic */
	uint64_t on_us, off_us;                 /* onoff */
};

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

const char *workload_name(enum workload wl);

#endif
