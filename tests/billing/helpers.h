/*
 * A real billingd store in a temporary directory, fed through store_meter()
 * exactly as the session does, for the billing tests (and the invoice
 * benchmark). Wall-clock placement of synthetic samples: each boot's
 * wall_offset_ns (boots table) is set by the test, so mono_ns maps to any
 * month, past or current.
 */
#ifndef TESTS_BILLING_HELPERS_H
#define TESTS_BILLING_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "accounting/counters.h"
#include "billingd/store.h"

struct tb {
	struct store *st;
	char dir[128], path[192];
};

/* A fresh database; aborts the test program on failure. */
void tb_open(struct tb *t);
/* Close and open again (a billingd restart). */
void tb_reopen(struct tb *t);
/* Close and delete the files. */
void tb_close(struct tb *t);

/* A boot whose mono_ns 0 is wall time wall0_ns; returns its boots.id. */
int64_t tb_boot(struct tb *t, uint64_t boot_id, int64_t wall0_ns);
/* domid is `name` in that boot. */
void tb_name(struct tb *t, int64_t boot, uint16_t domid, const char *name);
/* One METER: n domains' cumulative counters at mono_ns. */
void tb_meter(struct tb *t, int64_t boot, uint64_t mono_ns, unsigned n,
              const uint16_t *domids, const struct usage_counters *c);
/* A DESTROYED event of domid. */
void tb_destroyed(struct tb *t, int64_t boot, uint64_t seq, uint64_t mono_ns,
                  uint16_t domid, const char *name);
/* store_rollup() with retention 0 kept off (nothing deleted). */
void tb_rollup(struct tb *t);
/* Run SQL; aborts on error. */
void tb_sql(struct tb *t, const char *sql);
/* First column of the first row as int64 (0 if none). */
int64_t tb_int(struct tb *t, const char *sql);

/* Wall-clock now and a UTC date as unix seconds. */
int64_t tb_now_s(void);
int64_t tb_utc(int y, int mo, int d, int h, int mi, int s);

#endif
