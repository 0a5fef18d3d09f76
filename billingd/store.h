/*
 * billingd's SQLite store: boots, domains, raw METER samples, per-interval
 * usage deltas, events, desired state, rollups. docs/billingd.md has the
 * schema, the durability argument and the counter-reset rules; this header
 * is the contract.
 *
 * Transactions are the caller's: store_begin() ... store_commit() around
 * one batch of received frames, and the caller acknowledges records only
 * after store_commit() returned 0 (the ACK rule). Every write function
 * requires an open transaction.
 *
 * Invariants (checked by the tests, see docs/billingd.md section 3):
 *   1. A sample (boot, domid, mono_ns) is stored at most once: the primary
 *      key, INSERT OR IGNORE.
 *   2. A delta row is written exactly when a sample is newly stored and is
 *      newer than the newest stored sample of its series (boot, domid); it
 *      is usage_delta() of the two. So per series the deltas sum, modulo
 *      2^64, to the newest sample's cumulative counters (gauges aside), and
 *      no delta is negative.
 *   3. boot_domains holds each series' newest sample, updated in the same
 *      transaction as the samples, so a crash anywhere leaves the three
 *      consistent.
 *
 * u64 values (counters, boot ids) are stored as the int64 with the same
 * bits; readers convert back (docs/billingd.md section 2).
 */
#ifndef BILLINGD_STORE_H
#define BILLINGD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/wire.h"

struct store;
struct sqlite3;

struct store_counts {
	uint64_t samples_new, samples_dup, samples_stale, deltas;
	uint64_t resets; /* deltas in which some counter went backwards */
	uint64_t events_new, events_dup;
	uint64_t commits;
};

/* Open (creating if needed) the database at path: WAL, synchronous FULL
 * (or NORMAL with sync_full false), foreign keys, busy timeout, then every
 * forward migration. 0, or -1 with the reason in err. */
int store_open(struct store **out, const char *path, bool sync_full, char *err,
               size_t errlen);
void store_close(struct store *st);
struct sqlite3 *store_db(struct store *st);
const char *store_errmsg(struct store *st);
const struct store_counts *store_counts(const struct store *st);

/* BEGIN IMMEDIATE unless a transaction is open. 0 or -1. */
int store_begin(struct store *st);
bool store_in_tx(const struct store *st);
/* Write the series' newest samples, COMMIT. 0, or -1 (then rolled back:
 * nothing of the batch is stored, the cache is dropped). */
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* The boots row of boot_id, created on first sight (tsc_hz, and the wall
 * clock offset: host realtime now minus the hypervisor's mono_ns). */
int store_boot(struct store *st, uint64_t boot_id, uint64_t tsc_hz,
               uint64_t mono_ns, int64_t *boot_ref, bool *is_new);
/* The domains row called name (created if create), or 0 if absent; -1 on
 * error. */
int64_t store_domain_id(struct store *st, const char *name, bool create);
/* Record that domid is `name` in this boot. 0 or -1. */
int store_domain_seen(struct store *st, int64_t boot_ref, domid_t domid,
                      const char *name);
/* Store one METER batch (invariants 1-3). 0 or -1. */
int store_meter(struct store *st, int64_t boot_ref, const struct wire_usage *u);
/* Store one EVENT record (once per (boot, seq)). 0 or -1. */
int store_event(struct store *st, int64_t boot_ref, uint64_t seq,
                const struct wire_event *e);
/* stats(name) = v. 0 or -1. */
int store_stat(struct store *st, const char *name, uint64_t v);
/* stats(name) on any connection: 0 if absent, -1 on error. */
int64_t store_stat_get(struct sqlite3 *db, const char *name);

/* Online backup of the whole database to out (sqlite3_backup), while
 * others write. 0, or -1 with err. */
int store_backup(struct store *st, const char *out, char *err, size_t errlen);

/* Host wall clock, ns since the epoch. */
int64_t store_wall_ns(void);

#endif
