/*
 * billingd's SQLite store; the contract and invariants are in store.h, the
 * schema in schema.h, the reasons in docs/billingd.md.
 *
 * The hot path is store_meter(): per entry one INSERT OR IGNORE into
 * samples (whose key (boot, mono_ns, domid) makes every insert an append)
 * and, if the sample is new and newest, one append into usage_delta. The
 * newest sample of each series comes from an in-memory cache keyed by
 * (boot, domid), filled from boot_domains on a miss and written back to it
 * once per series per transaction in store_commit(). A rollback (or a
 * crash) drops the cache with the transaction, so it never holds anything
 * the database does not.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "accounting/counters.h"
#include "schema.h"

struct series {
	uint64_t key;  /* boot << 32 | domid; 0: empty slot */
	bool has_prev; /* a sample of this series is stored */
	bool dirty;    /* prev changed in the open transaction */
	struct usage_sample prev;
};

enum {
	Q_SAMPLE,
	Q_DELTA,
	Q_SERIES_GET,
	Q_SERIES_PUT,
	Q_EVENT,
	Q_BOOT_GET,
	Q_BOOT_ADD,
	Q_BOOT_SEEN,
	Q_DOM_GET,
	Q_DOM_ADD,
	Q_BD_NAME,
	Q_STAT,
	Q_BEGIN,
	Q_COMMIT,
	Q_COUNT
};

static const char *const sql[Q_COUNT] = {
    [Q_SAMPLE] = "INSERT OR IGNORE INTO samples VALUES(?,?,?,?,?,?,?,?,?,"
                 "?,?,?,?,?,?,?,?)",
    [Q_DELTA] = "INSERT INTO usage_delta(boot,domid,start_ns,end_ns,flags,"
                "cpu_ns,ready_ns,cap_throttled_ns,warped_ns,dispatches,"
                "wakeups,hypercalls,blk_read_ops,blk_write_ops,"
                "blk_read_bytes,blk_write_bytes,blk_throttled_ns,"
                "mem_pages,mem_page_ns) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                "?,?,?,?,?)",
    [Q_SERIES_GET] = "SELECT last_mono_ns,cpu_ns,ready_ns,cap_throttled_ns,"
                     "warped_ns,dispatches,wakeups,hypercalls,"
                     "blk_read_ops,blk_write_ops,blk_read_bytes,"
                     "blk_write_bytes,blk_throttled_ns,mem_pages,"
                     "mem_page_ns FROM boot_domains WHERE boot=? AND "
                     "domid=? AND last_mono_ns IS NOT NULL",
    [Q_SERIES_PUT] =
        "INSERT INTO boot_domains(boot,domid,first_mono_ns,last_mono_ns,"
        "cpu_ns,ready_ns,cap_throttled_ns,warped_ns,dispatches,wakeups,"
        "hypercalls,blk_read_ops,blk_write_ops,blk_read_bytes,"
        "blk_write_bytes,blk_throttled_ns,mem_pages,mem_page_ns) "
        "VALUES(?1,?2,?3,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
        "?17) ON CONFLICT(boot,domid) DO UPDATE SET "
        "first_mono_ns=coalesce(first_mono_ns,excluded.first_mono_ns),"
        "last_mono_ns=excluded.last_mono_ns,cpu_ns=excluded.cpu_ns,"
        "ready_ns=excluded.ready_ns,"
        "cap_throttled_ns=excluded.cap_throttled_ns,"
        "warped_ns=excluded.warped_ns,dispatches=excluded.dispatches,"
        "wakeups=excluded.wakeups,hypercalls=excluded.hypercalls,"
        "blk_read_ops=excluded.blk_read_ops,"
        "blk_write_ops=excluded.blk_write_ops,"
        "blk_read_bytes=excluded.blk_read_bytes,"
        "blk_write_bytes=excluded.blk_write_bytes,"
        "blk_throttled_ns=excluded.blk_throttled_ns,"
        "mem_pages=excluded.mem_pages,mem_page_ns=excluded.mem_page_ns",
    [Q_EVENT] = "INSERT OR IGNORE INTO events VALUES(?,?,?,?,?,?,?,?,?)",
    [Q_BOOT_GET] = "SELECT id FROM boots WHERE boot_id=?",
    [Q_BOOT_ADD] = "INSERT INTO boots(boot_id,tsc_hz,first_seen_unix_ns,"
                   "wall_offset_ns,last_seen_unix_ns) VALUES(?,?,?,?,?)",
    [Q_BOOT_SEEN] = "UPDATE boots SET last_seen_unix_ns=? WHERE id=?",
    [Q_DOM_GET] = "SELECT id FROM domains WHERE name=?",
    [Q_DOM_ADD] = "INSERT INTO domains(name,first_seen_unix_ns) "
                  "VALUES(?,?)",
    [Q_BD_NAME] = "INSERT INTO boot_domains(boot,domid,domain) "
                  "VALUES(?,?,?) ON CONFLICT(boot,domid) DO UPDATE SET "
                  "domain=excluded.domain",
    [Q_STAT] = "INSERT INTO stats VALUES(?,?) ON CONFLICT(name) DO UPDATE "
               "SET value=excluded.value",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	bool in_tx;
	struct series *cache; /* open addressing, power-of-two size */
	size_t cache_cap, cache_n;
	uint64_t *dirty; /* keys of dirty series */
	size_t ndirty, dirty_cap;
	struct store_counts counts;
};

int64_t store_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t s64(uint64_t v)
{
	return (int64_t)v; /* same bits: the storage rule for u64 */
}

sqlite3 *store_db(struct store *st)
{
	return st->db;
}

const char *store_errmsg(struct store *st)
{
	return sqlite3_errmsg(st->db);
}

const struct store_counts *store_counts(const struct store *st)
{
	return &st->counts;
}

/* ---- open, migrations ------------------------------------------------------
 */

static int exec(struct store *st, const char *s, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, s, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(st->db));
	sqlite3_free(msg);
	return -1;
}

static int user_version(struct store *st, int *v)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL))
		return -1;
	*v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
	sqlite3_finalize(q);
	return 0;
}

/* One migration per transaction; the version is read inside it, so two
 * processes opening a new database at once (the daemon and billingd --set)
 * never run a migration twice. */
static int migrate(struct store *st, char *err, size_t errlen)
{
	for (;;) {
		int v;
		if (exec(st, "BEGIN IMMEDIATE", err, errlen))
			return -1;
		if (user_version(st, &v)) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
			goto fail;
		}
		if (v > SCHEMA_VERSION) {
			snprintf(
			    err, errlen,
			    "database schema version %d is newer than this "
			    "billingd (%d): refusing to touch it",
			    v, SCHEMA_VERSION);
			goto fail;
		}
		if (v == SCHEMA_VERSION)
			return exec(st, "COMMIT", err, errlen);
		char bump[64];
		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d", v + 1);
		if (exec(st, schema_migrations[v], err, errlen) ||
		    exec(st, bump, err, errlen) ||
		    exec(st, "COMMIT", err, errlen))
			goto fail;
	}
fail:;
	char e2[256];
	exec(st, "ROLLBACK", e2, sizeof(e2));
	return -1;
}

int store_open(struct store **out, const char *path, bool sync_full, char *err,
               size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	*out = NULL;
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &st->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                        SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         st->db ? sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	/* WAL: readers (the REST API, backups, sqlite3) never block the
	 * writer. synchronous=FULL in WAL mode fsyncs the WAL at every
	 * commit, so a committed - and therefore acknowledged - batch
	 * survives a power cut; NORMAL would survive only a crash of
	 * billingd (docs/billingd.md section 3). */
	char pragmas[256];
	snprintf(pragmas, sizeof(pragmas),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
	         "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;",
	         sync_full ? "FULL" : "NORMAL");
	/* Switching a new database to WAL takes an exclusive lock, for which
	 * SQLite does not wait in its busy handler; neither does a migration
	 * racing another process's first open. Both are retried, bounded
	 * (10 s), so the daemon and billingd --set may start together. */
	int tries = 0;
	while (exec(st, pragmas, err, errlen) || migrate(st, err, errlen)) {
		int rc = sqlite3_errcode(st->db);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    ++tries > 1000)
			goto fail;
		usleep(10000);
	}
	for (int i = 0; i < Q_COUNT; i++)
		if (sqlite3_prepare_v3(st->db, sql[i], -1,
		                       SQLITE_PREPARE_PERSISTENT, &st->q[i],
		                       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "prepare: %s",
			         sqlite3_errmsg(st->db));
			goto fail;
		}
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->in_tx)
		store_rollback(st);
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	free(st->cache);
	free(st->dirty);
	free(st);
}

/* ---- statement helpers ------------------------------------------------------
 */

/* Run a prepared statement with no result rows. 0 or -1. */
static int run(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void bind_counters(sqlite3_stmt *q, int first,
                          const struct usage_counters *c)
{
	for (unsigned k = 0; k < USAGE_NFIELDS; k++)
		sqlite3_bind_int64(q, first + (int)k,
		                   s64(usage_field_get(c, k)));
}

/* ---- series cache
 * ------------------------------------------------------------ */

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

static struct series *cache_slot(struct store *st, uint64_t key)
{
	size_t m = st->cache_cap - 1;
	for (size_t i = mix(key) & m;; i = (i + 1) & m)
		if (st->cache[i].key == key || st->cache[i].key == 0)
			return &st->cache[i];
}

static int cache_grow(struct store *st)
{
	size_t ncap = st->cache_cap ? st->cache_cap * 2 : 4096;
	struct series *old = st->cache;
	size_t ocap = st->cache_cap;
	st->cache = calloc(ncap, sizeof(*st->cache));
	if (!st->cache) {
		st->cache = old;
		return -1;
	}
	st->cache_cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			*cache_slot(st, old[i].key) = old[i];
	free(old);
	return 0;
}

static void cache_drop(struct store *st)
{
	if (st->cache)
		memset(st->cache, 0, st->cache_cap * sizeof(*st->cache));
	st->cache_n = 0;
	st->ndirty = 0;
}

/* The series (boot, domid), loaded from boot_domains on a miss. */
static struct series *series_get(struct store *st, int64_t boot, domid_t domid)
{
	uint64_t key = (uint64_t)boot << 32 | domid;
	if ((st->cache_n + 1) * 2 > st->cache_cap && cache_grow(st))
		return NULL;
	struct series *s = cache_slot(st, key);
	if (s->key == key)
		return s;
	*s = (struct series){.key = key};
	st->cache_n++;
	sqlite3_stmt *q = st->q[Q_SERIES_GET];
	sqlite3_bind_int64(q, 1, boot);
	sqlite3_bind_int64(q, 2, domid);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		s->has_prev = true;
		s->prev.ns = (uint64_t)sqlite3_column_int64(q, 0);
		for (unsigned k = 0; k < USAGE_NFIELDS; k++)
			*usage_field(&s->prev.c, k) =
			    (uint64_t)sqlite3_column_int64(q, 1 + (int)k);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return NULL;
	return s;
}

static int mark_dirty(struct store *st, struct series *s)
{
	if (s->dirty)
		return 0;
	if (st->ndirty == st->dirty_cap) {
		size_t nc = st->dirty_cap ? st->dirty_cap * 2 : 1024;
		uint64_t *nd = realloc(st->dirty, nc * sizeof(*nd));
		if (!nd)
			return -1;
		st->dirty = nd;
		st->dirty_cap = nc;
	}
	st->dirty[st->ndirty++] = s->key;
	s->dirty = true;
	return 0;
}

/* ---- transactions -----------------------------------------------------------
 */

int store_begin(struct store *st)
{
	if (st->in_tx)
		return 0;
	if (run(st->q[Q_BEGIN]))
		return -1;
	st->in_tx = true;
	return 0;
}

bool store_in_tx(const struct store *st)
{
	return st->in_tx;
}

void store_rollback(struct store *st)
{
	char err[16];
	if (st->in_tx)
		exec(st, "ROLLBACK", err, sizeof(err));
	st->in_tx = false;
	cache_drop(st);
}

int store_commit(struct store *st)
{
	if (!st->in_tx)
		return 0;
	sqlite3_stmt *q = st->q[Q_SERIES_PUT];
	for (size_t i = 0; i < st->ndirty; i++) {
		struct series *s = cache_slot(st, st->dirty[i]);
		sqlite3_bind_int64(q, 1, (int64_t)(s->key >> 32));
		sqlite3_bind_int64(q, 2, (int64_t)(s->key & 0xffffffffu));
		sqlite3_bind_int64(q, 3, s64(s->prev.ns));
		bind_counters(q, 4, &s->prev.c);
		if (run(q))
			goto fail;
		s->dirty = false;
	}
	st->ndirty = 0;
	/* Fault injection for the kill -9 tests: widen the window in which
	 * a transaction is open but not committed. */
	static int delay_ms = -1;
	if (delay_ms < 0) {
		const char *e = getenv("BILLINGD_TEST_COMMIT_DELAY_MS");
		delay_ms = e ? atoi(e) : 0;
	}
	if (delay_ms > 0) {
		struct timespec ts = {delay_ms / 1000,
		                      (long)(delay_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	if (run(st->q[Q_COMMIT]))
		goto fail;
	st->in_tx = false;
	st->counts.commits++;
	return 0;
fail:
	store_rollback(st);
	return -1;
}

/* ---- writes
 * ------------------------------------------------------------------ */

int store_boot(struct store *st, uint64_t boot_id, uint64_t tsc_hz,
               uint64_t mono_ns, int64_t *boot_ref, bool *is_new)
{
	sqlite3_stmt *q = st->q[Q_BOOT_GET];
	int64_t now = store_wall_ns();
	sqlite3_bind_int64(q, 1, s64(boot_id));
	int rc = sqlite3_step(q);
	*is_new = rc != SQLITE_ROW;
	if (rc == SQLITE_ROW)
		*boot_ref = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (!*is_new) {
		q = st->q[Q_BOOT_SEEN];
		sqlite3_bind_int64(q, 1, now);
		sqlite3_bind_int64(q, 2, *boot_ref);
		return run(q);
	}
	q = st->q[Q_BOOT_ADD];
	sqlite3_bind_int64(q, 1, s64(boot_id));
	sqlite3_bind_int64(q, 2, s64(tsc_hz));
	sqlite3_bind_int64(q, 3, now);
	sqlite3_bind_int64(q, 4, now - s64(mono_ns));
	sqlite3_bind_int64(q, 5, now);
	if (run(q))
		return -1;
	*boot_ref = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int64_t store_domain_id(struct store *st, const char *name, bool create)
{
	sqlite3_stmt *q = st->q[Q_DOM_GET];
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (id || !create)
		return id;
	q = st->q[Q_DOM_ADD];
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, store_wall_ns());
	if (run(q))
		return -1;
	return sqlite3_last_insert_rowid(st->db);
}

int store_domain_seen(struct store *st, int64_t boot_ref, domid_t domid,
                      const char *name)
{
	int64_t id = store_domain_id(st, name, true);
	if (id < 0)
		return -1;
	sqlite3_stmt *q = st->q[Q_BD_NAME];
	sqlite3_bind_int64(q, 1, boot_ref);
	sqlite3_bind_int64(q, 2, domid);
	sqlite3_bind_int64(q, 3, id);
	return run(q);
}

int store_meter(struct store *st, int64_t boot_ref, const struct wire_usage *u)
{
	sqlite3_stmt *qs = st->q[Q_SAMPLE], *qd = st->q[Q_DELTA];
	for (uint32_t i = 0; i < u->count; i++) {
		const struct wire_usage_entry *e = &u->e[i];
		sqlite3_bind_int64(qs, 1, boot_ref);
		sqlite3_bind_int64(qs, 2, s64(u->mono_ns));
		sqlite3_bind_int64(qs, 3, e->domid);
		bind_counters(qs, 4, &e->c);
		if (run(qs))
			return -1;
		if (sqlite3_changes(st->db) == 0) {
			st->counts.samples_dup++; /* invariant 1 */
			continue;
		}
		st->counts.samples_new++;
		struct series *s = series_get(st, boot_ref, e->domid);
		if (!s)
			return -1;
		struct usage_sample cur = {
		    .boot_id = 1, .ns = u->mono_ns, .c = e->c};
		s->prev.boot_id = 1; /* one series = one boot */
		struct usage_counters d;
		int rc = usage_delta(s->has_prev ? &s->prev : NULL, &cur, &d);
		if (rc < 0) {
			/* Older than the newest stored sample (a resend
			 * after a loss): stored raw, its usage is already in
			 * the newer sample's delta (invariant 2). */
			st->counts.samples_stale++;
			continue;
		}
		if (rc & ((1 << USAGE_NFIELDS) - 1))
			st->counts.resets++;
		sqlite3_bind_int64(qd, 1, boot_ref);
		sqlite3_bind_int64(qd, 2, e->domid);
		sqlite3_bind_int64(qd, 3, s->has_prev ? s64(s->prev.ns) : 0);
		sqlite3_bind_int64(qd, 4, s64(u->mono_ns));
		sqlite3_bind_int64(qd, 5, rc);
		bind_counters(qd, 6, &d);
		if (run(qd))
			return -1;
		st->counts.deltas++;
		s->prev = cur;
		s->has_prev = true;
		if (mark_dirty(st, s))
			return -1;
	}
	return 0;
}

int store_event(struct store *st, int64_t boot_ref, uint64_t seq,
                const struct wire_event *e)
{
	sqlite3_stmt *q = st->q[Q_EVENT];
	sqlite3_bind_int64(q, 1, boot_ref);
	sqlite3_bind_int64(q, 2, s64(seq));
	sqlite3_bind_int64(q, 3, s64(e->mono_ns));
	sqlite3_bind_int64(q, 4, e->domid);
	sqlite3_bind_int64(q, 5, e->kind);
	sqlite3_bind_int64(q, 6, e->why);
	sqlite3_bind_int64(q, 7, s64(e->detail));
	sqlite3_bind_text(q, 8, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 9, store_wall_ns());
	if (run(q))
		return -1;
	if (sqlite3_changes(st->db))
		st->counts.events_new++;
	else
		st->counts.events_dup++;
	return 0;
}

int store_stat(struct store *st, const char *name, uint64_t v)
{
	sqlite3_stmt *q = st->q[Q_STAT];
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, s64(v));
	return run(q);
}

int64_t store_stat_get(sqlite3 *db, const char *name)
{
	sqlite3_stmt *q;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM stats WHERE name=?", -1,
	                       &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? v : -1;
}

/* ---- backup
 * ------------------------------------------------------------------- */

int store_backup(struct store *st, const char *out, char *err, size_t errlen)
{
	sqlite3 *dst;
	if (sqlite3_open(out, &dst) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", out, sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", st->db, "main");
	if (!b) {
		snprintf(err, errlen, "%s: %s", out, sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	int rc;
	/* 1024 pages a step, pausing between steps, so a running billingd
	 * (another connection) keeps writing while the copy is made; a
	 * write by it restarts the copy, which still ends consistent. */
	while ((rc = sqlite3_backup_step(b, 1024)) == SQLITE_OK ||
	       rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		sqlite3_sleep(5);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: backup failed: %s", out,
		         sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	rc = sqlite3_close(dst);
	return rc == SQLITE_OK ? 0 : -1;
}
