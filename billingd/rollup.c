/*
 * Rollups and retention (docs/billingd.md section 5).
 *
 * Every usage_delta row is added, exactly once, into the 1-minute and the
 * 1-hour bucket of the wall-clock time of its end (end_ns plus its boot's
 * wall_offset_ns). Progress is the highest delta id rolled up
 * (stats.rollup_delta_id), advanced in the same transaction as the sums,
 * so a crash never rolls a delta up twice or not at all; deltas that
 * arrive late (a replay after a long outage) get new ids and are added to
 * their old buckets. Sums are computed here in C, modulo 2^64 like the
 * counters, with mem_page_ns's carries kept in mem_page_ns_hi (an hour of
 * a large domain's page-ns exceeds 2^64); mem_pages, a gauge, keeps the
 * maximum.
 *
 * Retention: after each pass, rollup_marks records (highest id, now);
 * deltas up to the newest mark older than the retention period, and raw
 * samples older than it, are deleted. The rollups are kept.
 */
#include "rollup.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/counters.h"

#define CHUNK ROLLUP_CHUNK

struct acc {
	int64_t boot, domid, bucket;
	uint64_t n, c[USAGE_NFIELDS], hi;
};

static int cmp_acc(const void *a, const void *b)
{
	const struct acc *x = a, *y = b;
	if (x->boot != y->boot)
		return x->boot < y->boot ? -1 : 1;
	if (x->domid != y->domid)
		return x->domid < y->domid ? -1 : 1;
	return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

static void add(struct acc *a, const struct acc *d)
{
	a->n += d->n;
	for (unsigned k = 0; k < USAGE_NFIELDS; k++) {
		if (usage_field_is_gauge(k)) {
			if (d->c[k] > a->c[k])
				a->c[k] = d->c[k];
			continue;
		}
		uint64_t s = a->c[k] + d->c[k];
		if (k == USAGE_FIELD_MEM_PAGE_NS && s < a->c[k])
			a->hi++;
		a->c[k] = s;
	}
	a->hi += d->hi;
}

/* Merge sorted accumulators into table `tab`. */
static int flush(sqlite3 *db, const char *tab, struct acc *v, size_t n)
{
	char get[256], put[512];
	snprintf(get, sizeof(get),
	         "SELECT n,cpu_ns,ready_ns,cap_throttled_ns,warped_ns,"
	         "dispatches,wakeups,hypercalls,blk_read_ops,blk_write_ops,"
	         "blk_read_bytes,blk_write_bytes,blk_throttled_ns,mem_pages,"
	         "mem_page_ns,mem_page_ns_hi FROM %s WHERE boot=? AND "
	         "domid=? AND bucket_unix_s=?",
	         tab);
	snprintf(put, sizeof(put),
	         "INSERT OR REPLACE INTO %s VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,"
	         "?,?,?,?,?,?)",
	         tab);
	sqlite3_stmt *qg = NULL, *qp = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(db, get, -1, &qg, NULL) ||
	    sqlite3_prepare_v2(db, put, -1, &qp, NULL))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct acc a = v[i];
		sqlite3_bind_int64(qg, 1, a.boot);
		sqlite3_bind_int64(qg, 2, a.domid);
		sqlite3_bind_int64(qg, 3, a.bucket);
		if (sqlite3_step(qg) == SQLITE_ROW) {
			struct acc old = a;
			old.n = (uint64_t)sqlite3_column_int64(qg, 0);
			for (unsigned k = 0; k < USAGE_NFIELDS; k++)
				old.c[k] = (uint64_t)sqlite3_column_int64(
				    qg, 1 + (int)k);
			old.hi = (uint64_t)sqlite3_column_int64(qg, 15);
			add(&old, &a);
			a = old;
		}
		sqlite3_reset(qg);
		sqlite3_bind_int64(qp, 1, a.boot);
		sqlite3_bind_int64(qp, 2, a.domid);
		sqlite3_bind_int64(qp, 3, a.bucket);
		sqlite3_bind_int64(qp, 4, (int64_t)a.n);
		for (unsigned k = 0; k < USAGE_NFIELDS; k++)
			sqlite3_bind_int64(qp, 5 + (int)k, (int64_t)a.c[k]);
		sqlite3_bind_int64(qp, 19, (int64_t)a.hi);
		if (sqlite3_step(qp) != SQLITE_DONE)
			goto out;
		sqlite3_reset(qp);
	}
	rc = 0;
out:
	sqlite3_finalize(qg);
	sqlite3_finalize(qp);
	return rc;
}

/* Sort, merge equal keys in place; returns the new count. */
static size_t merge(struct acc *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_acc);
	size_t w = 0;
	for (size_t i = 1; i < n; i++) {
		if (cmp_acc(&v[w], &v[i]) == 0)
			add(&v[w], &v[i]);
		else
			v[++w] = v[i];
	}
	return w + 1;
}

/* One chunk: 0 done (nothing left), 1 more to do, -1 error. */
static int pass(sqlite3 *db, struct acc *m1, struct acc *h1, uint64_t *rows)
{
	int64_t from = store_stat_get(db, "rollup_delta_id");
	if (from < 0)
		return -1;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT u.id,u.boot,u.domid,u.end_ns+b.wall_offset_ns,"
	        "u.cpu_ns,u.ready_ns,u.cap_throttled_ns,u.warped_ns,"
	        "u.dispatches,u.wakeups,u.hypercalls,u.blk_read_ops,"
	        "u.blk_write_ops,u.blk_read_bytes,u.blk_write_bytes,"
	        "u.blk_throttled_ns,u.mem_pages,u.mem_page_ns FROM usage_delta "
	        "u"
	        " JOIN boots b ON b.id=u.boot WHERE u.id>? ORDER BY u.id"
	        " LIMIT ?",
	        -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, from);
	sqlite3_bind_int64(q, 2, CHUNK);
	size_t n = 0;
	int64_t last = from;
	while (sqlite3_step(q) == SQLITE_ROW) {
		last = sqlite3_column_int64(q, 0);
		struct acc a = {.boot = sqlite3_column_int64(q, 1),
		                .domid = sqlite3_column_int64(q, 2),
		                .n = 1};
		int64_t wall_s = sqlite3_column_int64(q, 3) / 1000000000;
		for (unsigned k = 0; k < USAGE_NFIELDS; k++)
			a.c[k] = (uint64_t)sqlite3_column_int64(q, 4 + (int)k);
		a.bucket = wall_s - wall_s % 60;
		m1[n] = a;
		a.bucket = wall_s - wall_s % 3600;
		h1[n] = a;
		n++;
	}
	sqlite3_finalize(q);
	if (!n)
		return 0;
	*rows += n;
	if (flush(db, "usage_1m", m1, merge(m1, n)) ||
	    flush(db, "usage_1h", h1, merge(h1, n)))
		return -1;
	char up[128];
	snprintf(up, sizeof(up),
	         "UPDATE stats SET value=%lld WHERE name='rollup_delta_id'",
	         (long long)last);
	if (sqlite3_exec(db, up, NULL, NULL, NULL))
		return -1;
	return n == CHUNK ? 1 : 0;
}

int store_rollup(struct store *st, uint64_t retention_days,
                 struct rollup_result *res, char *err, size_t errlen)
{
	return store_rollup_some(st, retention_days, 0, res, err, errlen);
}

int store_rollup_some(struct store *st, uint64_t retention_days,
                      unsigned max_chunks, struct rollup_result *res, char *err,
                      size_t errlen)
{
	sqlite3 *db = store_db(st);
	memset(res, 0, sizeof(*res));
	struct acc *m1 = malloc(CHUNK * sizeof(*m1));
	struct acc *h1 = malloc(CHUNK * sizeof(*h1));
	int rc = -1, more = 1;
	if (!m1 || !h1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (unsigned chunks = 0; more > 0; chunks++) {
		if (max_chunks && chunks == max_chunks) {
			res->more = true; /* retention waits for the end */
			rc = 0;
			goto out;
		}
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
			goto sqlerr;
		more = pass(db, m1, h1, &res->rolled);
		if (more < 0 || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto sqlerr;
		}
	}
	int64_t now_s = store_wall_ns() / 1000000000;
	int64_t cutoff_s = now_s - (int64_t)retention_days * 86400;
	char q[1024];
	snprintf(q, sizeof(q),
	         "BEGIN IMMEDIATE;"
	         "INSERT OR IGNORE INTO rollup_marks SELECT value,%lld FROM"
	         " stats WHERE name='rollup_delta_id';"
	         "DELETE FROM usage_delta WHERE id <= (SELECT"
	         " coalesce(max(delta_id),0) FROM rollup_marks WHERE"
	         " unix_s <= %lld);"
	         "DELETE FROM rollup_marks WHERE delta_id < (SELECT"
	         " coalesce(max(delta_id),0) FROM rollup_marks WHERE"
	         " unix_s <= %lld);",
	         (long long)now_s, (long long)cutoff_s, (long long)cutoff_s);
	if (sqlite3_exec(db, q, NULL, NULL, NULL))
		goto rollback;
	/* Raw samples: one key-range delete per boot (the key starts with
	 * (boot, mono_ns)), never a scan of the table. */
	sqlite3_stmt *qb = NULL, *qd = NULL;
	if (sqlite3_prepare_v2(db, "SELECT id, wall_offset_ns FROM boots", -1,
	                       &qb, NULL) ||
	    sqlite3_prepare_v2(db,
	                       "DELETE FROM samples WHERE boot=? AND "
	                       "mono_ns < ?",
	                       -1, &qd, NULL)) {
		sqlite3_finalize(qb);
		goto rollback;
	}
	while (sqlite3_step(qb) == SQLITE_ROW) {
		int64_t lim =
		    cutoff_s * 1000000000 - sqlite3_column_int64(qb, 1);
		if (lim <= 0)
			continue;
		sqlite3_bind_int64(qd, 1, sqlite3_column_int64(qb, 0));
		sqlite3_bind_int64(qd, 2, lim);
		if (sqlite3_step(qd) != SQLITE_DONE) {
			sqlite3_finalize(qb);
			sqlite3_finalize(qd);
			goto rollback;
		}
		res->deleted_samples += (uint64_t)sqlite3_changes(db);
		sqlite3_reset(qd);
	}
	sqlite3_finalize(qb);
	sqlite3_finalize(qd);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		goto rollback;
	rc = 0;
	goto out;
rollback:
	snprintf(err, errlen, "retention: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	goto out;
sqlerr:
	snprintf(err, errlen, "rollup: %s", sqlite3_errmsg(db));
out:
	free(m1);
	free(h1);
	return rc;
}
