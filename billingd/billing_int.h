/*
 * Internals shared by billing.c (plans, invoices), quota.c and usage.c:
 * UTC month arithmetic, exact 128-bit quantities, and the one scan of the
 * rollups every report is built on. Not part of the REST contract
 * (billing.h).
 *
 * Attribution rule (docs/billing.md section 2): a usage delta belongs to
 * the wall-clock second of its end (end_ns + its boot's wall_offset_ns),
 * exactly as rollup.c buckets it, so a month or a day is an exact sum of
 * usage_1h buckets, and an hour of usage_1m buckets.
 */
#ifndef BILLINGD_BILLING_INT_H
#define BILLINGD_BILLING_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/wire.h"
#include "store.h"

typedef unsigned __int128 u128;

#define SEC_NS ((int64_t)1000000000)
#define U128_DIGITS 40 /* 2^128 has 39 decimal digits, plus NUL */

/* jansson iterates only mutable objects; validation never modifies. */
#define JMUT(o)                                                                \
	(((union {                                                             \
		 const void *c;                                                \
		 void *m;                                                      \
	 }){.c = (o)})                                                         \
	     .m)

/* ---- UTC calendar ---- */

/* Days since 1970-01-01 of the civil date (proleptic Gregorian). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
/* "YYYY-MM" (1970-01 .. 9999-12) to [start, end) in unix seconds. 0 or -1. */
int month_parse(const char *s, int64_t *start_s, int64_t *end_s);
/* The UTC month containing t: its start and end, and "YYYY-MM". */
void month_of(int64_t t_s, int64_t *start_s, int64_t *end_s, char name[8]);
/* RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ". */
void rfc3339(int64_t t_s, char out[32]);

/* ---- exact integers ---- */

void u128_str(u128 v, char out[U128_DIGITS]);
/* Decimal digits only; -1 on anything else or overflow. */
int u128_parse(const char *s, u128 *v);
/* num / den rounded half up (den > 0). */
u128 div_half_up(u128 num, u128 den);

/* ---- the scan ---- */

/* The metered quantities of one bucket (or any sum of buckets). */
struct meter_sum {
	uint64_t n; /* deltas */
	u128 cpu_ns, ready_ns, read_ops, write_ops, read_bytes, write_bytes;
	u128 mem_page_ns;
	uint64_t mem_pages_max;
};

void meter_add(struct meter_sum *a, const struct meter_sum *b);

/* Called once per (series, bucket) found: domain is domains.id (0 when the
 * series' name is not known yet), bucket the start of the step-aligned
 * bucket in unix seconds. Return non-zero to stop the scan with an error. */
typedef int (*scan_fn)(void *ctx, int64_t domain, int64_t bucket_s,
                       const struct meter_sum *m);

/*
 * Usage attributed to [from_s, to_s) (multiples of step_s, which is 60,
 * 3600 or a multiple of 3600), of one domain (domain > 0) or of all
 * (domain 0): the rollup table of the step (usage_1m for 60, else
 * usage_1h), plus the deltas not rolled up yet (id > stats.rollup_delta_id,
 * and up to upto_id when it is >= 0), bucketed the same way, so a report
 * never lags the rollups. Several calls per bucket are possible (several
 * series, rolled and not). Call inside a read transaction, so the rollup
 * mark and the tables are one snapshot. 0, or -1 (SQL error, or the
 * callback's).
 */
int usage_scan(sqlite3 *db, int64_t domain, int64_t from_s, int64_t to_s,
               int64_t step_s, int64_t upto_id, scan_fn fn, void *ctx);

/* stats.value of name (0 if absent), or -1 on error. */

/* BEGIN (deferred: a snapshot) or BEGIN IMMEDIATE (a write) on db, and
 * the matching end. 0 or -1. */
int tx_begin(sqlite3 *db, bool write);
int tx_commit(sqlite3 *db);
void tx_rollback(sqlite3 *db);

/* Domain name [A-Za-z0-9_.-]{1,31}, the wire's rule. */
bool billing_name_ok(const char *s);

/* ---- plans (billing.c) ---- */

/* The priced meters, in invoice order after the base fee. */
enum meter { M_CPU, M_MEM, M_READ, M_WRITE, M_IOOPS, M_N };

struct plan {
	char name[WIRE_NAME_FIELD];
	char currency[4];
	int64_t base_micro; /* per domain per month */
	int64_t price[M_N]; /* micro-units per billing unit */
	int64_t incl[M_N];  /* billing units per domain per month */
};

/* The plan called name (NULL: "default") into *p. 1 found, 0 not, -1. */
int plan_load(sqlite3 *db, const char *name, struct plan *p);

#endif
