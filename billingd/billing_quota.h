/*
 * Internals of the quota code shared by quota.c (validation, GET and PUT)
 * and billing_quota_eval.c (month-to-date usage and enforcement). The
 * rules are in quota.c's opening comment and docs/billing.md section 6.
 */
#ifndef BILLINGD_BILLING_QUOTA_H
#define BILLINGD_BILLING_QUOTA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "billing_int.h"
#include "tools/link/kv.h"

enum metric { Q_CPU, Q_IO_BYTES, Q_IO_OPS, Q_MEM, Q_N };
extern const char *const metric_name[Q_N];
enum { T_WEIGHT, T_CAP, T_BPS, T_IOPS, T_N };
extern const char *const throttle_name[T_N];
extern const unsigned throttle_kv[T_N];

/* One limit: as asked (table quotas) or as in force (quota_state). */
struct limit {
	bool set;
	int64_t lim;
	char action[10];
	bool has_t[T_N];
	int64_t t[T_N];
};

/* One unit of metric m in the counters' units (ns, bytes, ops, page-ns):
 * a MiB-hour is 256 pages for 3600 s. */
static inline u128 metric_scale(int m)
{
	switch (m) {
	case Q_CPU:
		return SEC_NS;
	case Q_MEM:
		return (u128)256 * 3600 * SEC_NS;
	default:
		return 1;
	}
}

/* A domain's month-to-date usage (table quota_mtd). */
struct mtd {
	int64_t domain, month_s, upto;
	u128 use[Q_N]; /* cpu_ns, io bytes, io ops, page-ns */
	int paused;
	int64_t next_ns; /* when an action due may be handed out again */
	bool dirty;      /* changed since loaded */
};

/* The columns limit_row() reads, from its column c on. */
#define LIMIT_COLS                                                             \
	"metric,lim,action,t_cpu_weight,t_cpu_cap_pct,t_io_bps,t_io_iops"

void limit_row(sqlite3_stmt *q, int c, struct limit *l);
int metric_of(const char *s);
/* domains.id of name, 0 if none, -1 on error. */
int64_t domain_lookup(sqlite3 *db, const char *name);
/* The limits of a domain, from table quotas or quota_state. */
int limits_load(sqlite3 *db, const char *table, int64_t domain,
                struct limit *l);

/* t's usage of the month containing now_s, from the rollups and every
 * delta stored so far; save it. (billing_quota_eval.c) */
int mtd_init(sqlite3 *db, struct mtd *t, int64_t now_s);
int mtd_save(sqlite3 *db, const struct mtd *t);

#endif
