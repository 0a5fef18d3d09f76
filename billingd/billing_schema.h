/*
 * Migration 4 of billingd's schema (schema.h): plans, quotas and their
 * state, quota events, frozen invoices. docs/billing.md section 8 explains
 * each table. Owned by billing.c; like every migration, never edited once
 * shipped.
 *
 * Money is integer micro-units of the plan's currency; quantities that can
 * exceed 2^63 (page-nanoseconds of memory) are stored as decimal TEXT.
 */
#ifndef BILLINGD_BILLING_SCHEMA_H
#define BILLINGD_BILLING_SCHEMA_H

/* Plans: prices in micro-units per billing unit, included amounts in
 * whole billing units, in billing.c's meter order. customers.plan NULL is
 * the plan called "default". */
#define SCHEMA_PLANS                                                           \
	"CREATE TABLE plans(name TEXT PRIMARY KEY, currency TEXT NOT NULL,"    \
	" base_micro INTEGER NOT NULL, cpu_hour_micro INTEGER NOT NULL,"       \
	" memory_gib_month_micro INTEGER NOT NULL,"                            \
	" read_gib_micro INTEGER NOT NULL, write_gib_micro INTEGER NOT NULL,"  \
	" io_mops_micro INTEGER NOT NULL, incl_cpu_hours INTEGER NOT NULL,"    \
	" incl_memory_gib_months INTEGER NOT NULL,"                            \
	" incl_read_gib INTEGER NOT NULL, incl_write_gib INTEGER NOT NULL,"    \
	" incl_io_mops INTEGER NOT NULL,"                                      \
	" updated_unix_ns INTEGER NOT NULL) STRICT;"                           \
	"ALTER TABLE customers ADD COLUMN plan TEXT;"

/* Quotas: one row per (domain, metric) limited. */
#define SCHEMA_QUOTAS                                                          \
	"CREATE TABLE quotas(domain INTEGER NOT NULL REFERENCES domains(id),"  \
	" metric TEXT NOT NULL CHECK(metric IN ('cpu_seconds','io_bytes',"     \
	"'io_ops','memory_mib_hours')),"                                       \
	" lim INTEGER NOT NULL CHECK(lim >= 0),"                               \
	" action TEXT NOT NULL CHECK(action IN ('notify','throttle',"          \
	"'suspend')),"                                                         \
	" t_cpu_weight INTEGER, t_cpu_cap_pct INTEGER, t_io_bps INTEGER,"      \
	" t_io_iops INTEGER, updated_unix_ns INTEGER NOT NULL,"                \
	" PRIMARY KEY(domain, metric)) STRICT, WITHOUT ROWID;"

/* A limit in force (exhausted this month, not lifted yet), with the action
 * and throttle as applied. */
#define SCHEMA_QUOTA_STATE                                                     \
	"CREATE TABLE quota_state(domain INTEGER NOT NULL,"                    \
	" metric TEXT NOT NULL, month_unix_s INTEGER NOT NULL,"                \
	" lim INTEGER NOT NULL, action TEXT NOT NULL,"                         \
	" t_cpu_weight INTEGER, t_cpu_cap_pct INTEGER, t_io_bps INTEGER,"      \
	" t_io_iops INTEGER, since_unix_ns INTEGER NOT NULL,"                  \
	" PRIMARY KEY(domain, metric)) STRICT, WITHOUT ROWID;"

/* Month-to-date usage of each domain with a quota (the running totals
 * quota_evaluate() keeps: deltas up to upto_delta_id are counted) and its
 * suspend bookkeeping (paused: 0 none, 1 PAUSE due, 2 paused, 3 UNPAUSE
 * due; pause_sent_unix_ns: not handed out again before). */
#define SCHEMA_QUOTA_MTD                                                       \
	"CREATE TABLE quota_mtd(domain INTEGER PRIMARY KEY,"                   \
	" month_unix_s INTEGER NOT NULL, upto_delta_id INTEGER NOT NULL,"      \
	" cpu_ns INTEGER NOT NULL, io_bytes INTEGER NOT NULL,"                 \
	" io_ops INTEGER NOT NULL, mem_page_ns TEXT NOT NULL,"                 \
	" paused INTEGER NOT NULL DEFAULT 0,"                                  \
	" pause_sent_unix_ns INTEGER NOT NULL DEFAULT 0) STRICT;"              \
	"INSERT INTO stats VALUES('quota_delta_id', 0);"

/* Crossings, lifts, pauses and unpauses, for people and audits. */
#define SCHEMA_QUOTA_EVENTS                                                    \
	"CREATE TABLE quota_events(id INTEGER PRIMARY KEY,"                    \
	" unix_ns INTEGER NOT NULL, domain TEXT NOT NULL, metric TEXT,"        \
	" kind TEXT NOT NULL, action TEXT, usage TEXT, lim INTEGER,"           \
	" reason TEXT, status INTEGER) STRICT;"

/* kv key bits restored to the hypervisor's neutral value after a throttle
 * of a key the operator does not manage (desired.h). */
#define SCHEMA_RELEASED                                                        \
	"ALTER TABLE desired ADD COLUMN quota_released INTEGER NOT NULL"       \
	" DEFAULT 0;"

/* Frozen invoices: the month's lines, computed once, then each document
 * as first rendered (scope 'all' or 'customer:ID'). */
#define SCHEMA_INVOICES                                                        \
	"CREATE TABLE invoice_months(month TEXT PRIMARY KEY,"                  \
	" frozen_unix_ns INTEGER NOT NULL) STRICT;"                            \
	"CREATE TABLE invoice_lines(month TEXT NOT NULL,"                      \
	" seq INTEGER NOT NULL, customer TEXT, plan TEXT NOT NULL,"            \
	" currency TEXT NOT NULL, domain TEXT NOT NULL, meter TEXT NOT NULL,"  \
	" quantity TEXT NOT NULL, unit TEXT NOT NULL,"                         \
	" included TEXT NOT NULL, billable TEXT NOT NULL,"                     \
	" unit_price_micro INTEGER NOT NULL, price_unit TEXT NOT NULL,"        \
	" amount_micro INTEGER NOT NULL,"                                      \
	" PRIMARY KEY(month, seq)) STRICT, WITHOUT ROWID;"                     \
	"CREATE TABLE invoice_docs(month TEXT NOT NULL, scope TEXT NOT NULL,"  \
	" format TEXT NOT NULL CHECK(format IN ('json','csv')),"               \
	" body BLOB NOT NULL, created_unix_ns INTEGER NOT NULL,"               \
	" PRIMARY KEY(month, scope, format)) STRICT, WITHOUT ROWID;"

#define SCHEMA_BILLING                                                         \
	SCHEMA_PLANS SCHEMA_QUOTAS SCHEMA_QUOTA_STATE SCHEMA_QUOTA_MTD         \
	    SCHEMA_QUOTA_EVENTS SCHEMA_RELEASED SCHEMA_INVOICES

#endif
