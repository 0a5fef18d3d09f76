/*
 * billingd's schema, as forward migrations: migration k (1-based) takes a
 * database from PRAGMA user_version k-1 to k, in one transaction, on start.
 * Never edit a migration that has shipped; append one. docs/billingd.md
 * section 2 explains every table.
 *
 * Column names c0..c13 would be shorter; the counter names are used so the
 * database can be read without this header. u64 values are stored as the
 * int64 with the same bits.
 */
#ifndef BILLINGD_SCHEMA_H
#define BILLINGD_SCHEMA_H

#include "billing_schema.h"

#define SCHEMA_COUNTERS                                                        \
	"cpu_ns INTEGER NOT NULL, ready_ns INTEGER NOT NULL, "                 \
	"cap_throttled_ns INTEGER NOT NULL, warped_ns INTEGER NOT NULL, "      \
	"dispatches INTEGER NOT NULL, wakeups INTEGER NOT NULL, "              \
	"hypercalls INTEGER NOT NULL, blk_read_ops INTEGER NOT NULL, "         \
	"blk_write_ops INTEGER NOT NULL, blk_read_bytes INTEGER NOT NULL, "    \
	"blk_write_bytes INTEGER NOT NULL, blk_throttled_ns INTEGER NOT "      \
	"NULL, "                                                               \
	"mem_pages INTEGER NOT NULL, mem_page_ns INTEGER NOT NULL"

#define SCHEMA_COUNTERS_NULL                                                   \
	"cpu_ns INTEGER, ready_ns INTEGER, cap_throttled_ns INTEGER, "         \
	"warped_ns INTEGER, dispatches INTEGER, wakeups INTEGER, "             \
	"hypercalls INTEGER, blk_read_ops INTEGER, blk_write_ops INTEGER, "    \
	"blk_read_bytes INTEGER, blk_write_bytes INTEGER, "                    \
	"blk_throttled_ns INTEGER, mem_pages INTEGER, mem_page_ns INTEGER"

static const char *const schema_migrations[] = {
    /* 1: ingest and desired state */
    "CREATE TABLE stats(name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " STRICT;"
    "CREATE TABLE boots(id INTEGER PRIMARY KEY,"
    " boot_id INTEGER NOT NULL UNIQUE, tsc_hz INTEGER NOT NULL,"
    " first_seen_unix_ns INTEGER NOT NULL,"
    " wall_offset_ns INTEGER NOT NULL,"
    " last_seen_unix_ns INTEGER NOT NULL) STRICT;"
    "CREATE TABLE domains(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " first_seen_unix_ns INTEGER NOT NULL) STRICT;"
    "CREATE TABLE boot_domains(boot INTEGER NOT NULL REFERENCES boots(id),"
    " domid INTEGER NOT NULL, domain INTEGER REFERENCES domains(id),"
    " first_mono_ns INTEGER, last_mono_ns INTEGER, " SCHEMA_COUNTERS_NULL
    ", PRIMARY KEY(boot, domid)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE samples(boot INTEGER NOT NULL, mono_ns INTEGER NOT NULL,"
    " domid INTEGER NOT NULL, " SCHEMA_COUNTERS
    ", PRIMARY KEY(boot, mono_ns, domid)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE usage_delta(id INTEGER PRIMARY KEY,"
    " boot INTEGER NOT NULL, domid INTEGER NOT NULL,"
    " start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
    " flags INTEGER NOT NULL, " SCHEMA_COUNTERS ") STRICT;"
    "CREATE TABLE events(boot INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " mono_ns INTEGER NOT NULL, domid INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, why INTEGER NOT NULL,"
    " detail INTEGER NOT NULL, name TEXT NOT NULL,"
    " received_unix_ns INTEGER NOT NULL,"
    " PRIMARY KEY(boot, seq)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE desired(domain INTEGER PRIMARY KEY REFERENCES domains(id),"
    " cpu_weight INTEGER, cpu_cap_pct INTEGER, warp_us INTEGER,"
    " warp_limit_us INTEGER, unwarp_us INTEGER, io_bps INTEGER,"
    " io_iops INTEGER, io_burst_bytes INTEGER, io_burst_ops INTEGER,"
    " memory_max_mb INTEGER, mem_growth_pages_per_s INTEGER,"
    " mem_growth_burst_pages INTEGER,"
    " generation INTEGER NOT NULL DEFAULT 1,"
    " applied_generation INTEGER NOT NULL DEFAULT 0,"
    " applied_boot INTEGER, last_status INTEGER,"
    " updated_unix_ns INTEGER NOT NULL) STRICT;"
    "CREATE VIEW domain_deltas AS SELECT d.name AS name,"
    " b.boot_id AS boot_id, u.* FROM usage_delta u"
    " JOIN boots b ON b.id = u.boot"
    " LEFT JOIN boot_domains bd ON bd.boot = u.boot AND bd.domid = u.domid"
    " LEFT JOIN domains d ON d.id = bd.domain;",

    /* 2: rollups (docs/billingd.md section 5) */
    "CREATE TABLE usage_1m(boot INTEGER NOT NULL, domid INTEGER NOT NULL,"
    " bucket_unix_s INTEGER NOT NULL, n INTEGER NOT NULL, " SCHEMA_COUNTERS
    ", mem_page_ns_hi INTEGER NOT NULL,"
    " PRIMARY KEY(boot, domid, bucket_unix_s)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE usage_1h(boot INTEGER NOT NULL, domid INTEGER NOT NULL,"
    " bucket_unix_s INTEGER NOT NULL, n INTEGER NOT NULL, " SCHEMA_COUNTERS
    ", mem_page_ns_hi INTEGER NOT NULL,"
    " PRIMARY KEY(boot, domid, bucket_unix_s)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE rollup_marks(delta_id INTEGER PRIMARY KEY,"
    " unix_s INTEGER NOT NULL) STRICT;"
    "INSERT INTO stats VALUES('rollup_delta_id', 0);",

    /* 3: customers and API keys (issue 7, docs/api.md). A key is shown
     * once; only its SHA-256 is kept. key_id is the public part of the
     * key (the text before the '.'), used to find the row. */
    "CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " email TEXT, created_unix_ns INTEGER NOT NULL,"
    " updated_unix_ns INTEGER NOT NULL) STRICT;"
    "ALTER TABLE domains ADD COLUMN customer TEXT REFERENCES customers(id);"
    "CREATE TABLE api_keys(id INTEGER PRIMARY KEY,"
    " key_id TEXT NOT NULL UNIQUE, hash BLOB NOT NULL,"
    " role TEXT NOT NULL CHECK(role IN ('admin', 'tenant')),"
    " customer TEXT REFERENCES customers(id),"
    " created_unix_ns INTEGER NOT NULL, revoked_unix_ns INTEGER,"
    " CHECK((role = 'tenant') = (customer IS NOT NULL))) STRICT;",

    /* 4: plans, quotas, invoices (billingd/billing_schema.h) */
    SCHEMA_BILLING,

    /* 5: the REST API reads a domain's newest METER by domain, not by
     * (boot, domid): GET /v1/domains/{name} (docs/api.md). */
    "CREATE INDEX boot_domains_by_domain ON boot_domains(domain, boot);",

    /* 6: one domain's deltas not rolled up yet, by series and id range,
     * instead of every series' (usage_scan() of one domain: GET
     * /v1/domains/{name} and its quota, a quota's month-to-date start;
     * docs/billing.md section 9). Covering the columns usage_scan()
     * reads: a series' rows are interleaved with every other domain's in
     * the table, so without them each would be one more page read, and
     * each ingest commit empties the readers' page caches. */
    "CREATE INDEX usage_delta_by_series ON usage_delta(boot, domid, id,"
    " end_ns, cpu_ns, ready_ns, blk_read_ops, blk_write_ops,"
    " blk_read_bytes, blk_write_bytes, mem_page_ns, mem_pages);",

    /* 7: who owned a domain when (billingd/ownership.h, docs/billing.md
     * section 11), so a change of owner splits the month's invoice and a
     * tenant sees usage only from when the domain became theirs. Owners
     * set before this migration are recorded as owners from the start
     * (since_ns 0): there is no record of when they were set. */
    "CREATE TABLE ownership(domain INTEGER NOT NULL REFERENCES domains(id),"
    " since_ns INTEGER NOT NULL, customer TEXT REFERENCES customers(id),"
    " PRIMARY KEY(domain, since_ns)) STRICT, WITHOUT ROWID;"
    "INSERT INTO ownership SELECT id, 0, customer FROM domains"
    " WHERE customer IS NOT NULL;",
};

#define SCHEMA_VERSION                                                         \
	((int)(sizeof(schema_migrations) / sizeof(schema_migrations[0])))

#endif
