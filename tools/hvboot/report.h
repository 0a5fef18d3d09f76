/*
 * The hypervisor's end-of-run report, read back from its COM1 log.
 *
 * Log lines are "[   12.345678901] L message"; only lines that start with
 * '@' are machine-readable, and those follow this grammar (one line each,
 * fields separated by single or repeated spaces, every listed field exactly
 * once -- [optional] ones at most once -- and in any order unless marked
 * LAST):
 *
 *   @bench KEY=NUM ...                       any number, before @report end
 *   @refused module=U64 [name=NAME] reason=TEXT
 *                                            LAST field TEXT: to end of line
 *   @report begin elapsed_ns=U64 idle_ns=U64 hv_ns=U64 tsc_hz=U64
 *                 domains=U64
 *   @domain id=U64 name=NAME state=STATE cpu_ns=U64 ready_ns=U64
 *           warped_ns=U64 dispatches=U64 wakeups=U64 hypercalls=U64
 *           cpu_weight=U64 blk_read_ops=U64 blk_write_ops=U64
 *           blk_read_bytes=U64 blk_write_bytes=U64 blk_throttled_ns=U64
 *           mem_pages=U64 mem_page_ns=U64
 *           exit_reason=TEXT  (LAST; "-" means none)
 *   @kv id=U64 key=KEY value=U64             id of an earlier @domain
 *   @report end
 *
 *   U64   decimal, no sign, fits in 64 bits
 *   NUM   U64 or decimal with a fraction ("1.25"), optional leading '-'
 *   NAME  1..31 of [a-z0-9_-];  KEY: 1..31 of [a-z0-9_]
 *   STATE running | blocked | exited | killed
 *
 * @domain and @kv lines appear only between begin and end, and there are
 * exactly `domains` @domain lines with distinct ids. No '@' line may follow
 * @report end. Anything else starting with '@' is an error that names its
 * line, and a log without "@report end" is a truncated report.
 */
#ifndef HVBOOT_REPORT_H
#define HVBOOT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hypercall.h"

#define REPORT_KEY_MAX 31u /* @kv and @bench keys; FS_REPORT_KEY_MAX */
#define REPORT_NUM_MAX 31u /* characters of a @bench value */

struct report_kv {
	char key[REPORT_KEY_MAX + 1];
	uint64_t value;
};

struct report_domain {
	uint64_t id;
	char name[FS_NAME_MAX + 1];
	char sched_state[8]; /* running | blocked | exited | killed */
	char *exit_reason;   /* heap; NULL for "-" */
	uint64_t cpu_ns, ready_ns, warped_ns;
	uint64_t dispatches, wakeups, hypercalls, cpu_weight;
	uint64_t blk_read_ops, blk_write_ops, blk_read_bytes, blk_write_bytes;
	uint64_t blk_throttled_ns, mem_pages, mem_page_ns;
	struct report_kv *kv; /* nkv guest-reported values, in log order */
	size_t nkv;
};

struct report_bench {
	char key[REPORT_KEY_MAX + 1];
	char value[REPORT_NUM_MAX + 1]; /* a valid JSON number, verbatim */
};

struct report_refused {
	uint64_t module;
	char name[FS_NAME_MAX + 1]; /* "" when the line has no name= */
	char *reason;               /* heap */
};

struct hv_report {
	uint64_t elapsed_ns, idle_ns, hv_ns, tsc_hz;
	struct report_domain *doms;
	size_t n;
	struct report_bench *bench;
	size_t nbench;
	struct report_refused *refused;
	size_t nrefused;
};

/*
 * Parse the log in f (named `path` in messages) into *r. Returns 0, or a
 * negative FS_E* code with "PATH:LINE: reason" in err (FS_EPROTO for a
 * malformed or truncated report, FS_ENOMEM); on error *r holds nothing
 * that needs freeing.
 */
int report_parse(FILE *f, const char *path, struct hv_report *r, char *err,
                 size_t errlen);

void report_free(struct hv_report *r);

/* cpu_ns of every domain + idle_ns + hv_ns == elapsed_ns, i.e. the
 * hypervisor accounted for every nanosecond exactly once. */
int report_time_adds_up(const struct hv_report *r);

#endif
