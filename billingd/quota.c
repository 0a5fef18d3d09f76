/*
 * Monthly quotas and their enforcement (docs/billing.md section 6).
 *
 * A domain may limit, per UTC month, cpu_seconds, io_bytes (read +
 * written), io_ops (read + write operations) and memory_mib_hours, each
 * with an action: notify (an event only), throttle (the given reduced
 * shares are overlaid on its desired state, desired.c) or suspend (the
 * caller pauses it). A limit is exhausted when the month-to-date usage is
 * at or above it; it is then "in force" (a quota_state row) until the
 * month ends, or the limit is raised above the usage, removed or given
 * another action.
 *
 * Cost: quota_evaluate() runs after every committed METER batch (about
 * once a second, up to 2000 domains). It keeps each limited domain's
 * month-to-date usage in quota_mtd and adds only the deltas stored since
 * its last run (stats.quota_delta_id: a rowid range); a domain's running
 * total is initialised from the rollups when it gets a quota or a month
 * starts. Each row remembers up to which delta id it has counted, so a
 * delta is never counted twice or missed, and the range read starts at
 * the lowest of them. With no quota anywhere a run is one small read and
 * no write (the mark is then left alone). GET recounts the month from
 * the rollups and the domain's own pending deltas (usage_scan(), indexed
 * per series since schema migration 6): well under a millisecond.
 *
 * Suspend bookkeeping (quota_mtd.paused): 0 nothing, 1 a PAUSE is due,
 * 2 paused by us, 3 an UNPAUSE is due. An action is handed to the caller
 * again after ACTION_RETRY_S without an answer, or RETRY_FAILED_S after a
 * refusal (quota_action_done()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "billing_int.h"
#include "billing_quota.h"

#define LIMIT_MAX 9007199254740991ll /* 2^53 - 1: exact in any JSON */

const char *const metric_name[Q_N] = {"cpu_seconds", "io_bytes", "io_ops",
                                      "memory_mib_hours"};
enum { A_NOTIFY, A_THROTTLE, A_SUSPEND, A_N };
static const char *const action_name[A_N] = {"notify", "throttle", "suspend"};
_Static_assert(sizeof("throttle") <= sizeof(((struct limit *)0)->action),
               "struct limit.action holds every action name");
const char *const throttle_name[T_N] = {"cpu_weight", "cpu_cap_pct", "io_bps",
                                        "io_iops"};
const unsigned throttle_kv[T_N] = {KV_CPU_WEIGHT, KV_CPU_CAP_PCT, KV_IO_BPS,
                                   KV_IO_IOPS};

/* ---- validation ---- */

static int throttle_from_json(const json_t *o, const char *ctx, struct limit *l,
                              struct api_err *e)
{
	if (!json_is_object(o) || json_object_size(o) == 0)
		return api_fail(
		    e, API_INVALID_FIELD,
		    "%s.throttle must be an object with at least "
		    "one of cpu_weight, cpu_cap_pct, io_bps, io_iops",
		    ctx);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)JMUT(o), k, v)
	{
		int i;
		for (i = 0; i < T_N && strcmp(throttle_name[i], k); i++)
			;
		if (i == T_N)
			return api_fail(e, API_UNKNOWN_FIELD,
			                "%s.throttle: unknown field '%s'", ctx,
			                k);
		uint64_t lo, hi;
		kv_range(throttle_kv[i], &lo, &hi);
		if (lo < 1)
			lo = 1; /* 0 would mean unlimited: not a throttle */
		if (!json_is_integer(v) ||
		    json_integer_value(v) < (int64_t)lo ||
		    (uint64_t)json_integer_value(v) > hi)
			return api_fail(e, API_INVALID_FIELD,
			                "%s.throttle.%s must be an integer "
			                "%llu..%llu",
			                ctx, k, (unsigned long long)lo,
			                (unsigned long long)hi);
		l->has_t[i] = true;
		l->t[i] = json_integer_value(v);
	}
	return 0;
}

static int limit_from_json(const json_t *o, const char *metric, struct limit *l,
                           struct api_err *e)
{
	char ctx[64];
	snprintf(ctx, sizeof(ctx), "limits.%s", metric);
	if (!json_is_object(o))
		return api_fail(e, API_INVALID_FIELD, "%s must be an object",
		                ctx);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)JMUT(o), k, v)
	{
		if (strcmp(k, "limit") && strcmp(k, "action") &&
		    strcmp(k, "throttle"))
			return api_fail(e, API_UNKNOWN_FIELD,
			                "%s: unknown field '%s'", ctx, k);
	}
	json_t *lim = json_object_get(o, "limit");
	json_t *act = json_object_get(o, "action");
	json_t *thr = json_object_get(o, "throttle");
	if (!lim || !act)
		return api_fail(e, API_MISSING_FIELD,
		                "%s: limit and action are required", ctx);
	if (!json_is_integer(lim) || json_integer_value(lim) < 0 ||
	    json_integer_value(lim) > LIMIT_MAX)
		return api_fail(e, API_INVALID_FIELD,
		                "%s.limit must be an integer 0..%lld", ctx,
		                LIMIT_MAX);
	const char *a = json_is_string(act) ? json_string_value(act) : NULL;
	int ai = 0;
	while (a && ai < A_N && strcmp(a, action_name[ai]))
		ai++;
	if (!a || ai == A_N)
		return api_fail(e, API_INVALID_FIELD,
		                "%s.action must be notify, throttle or suspend",
		                ctx);
	l->set = true;
	l->lim = json_integer_value(lim);
	/* From the table, not the request: its length is known to fit
	 * (and the compiler can see so: no -Wformat-truncation). */
	snprintf(l->action, sizeof(l->action), "%s", action_name[ai]);
	if (ai == A_THROTTLE) {
		if (!thr)
			return api_fail(e, API_MISSING_FIELD,
			                "%s.throttle is required with action "
			                "throttle",
			                ctx);
		return throttle_from_json(thr, ctx, l, e);
	}
	if (thr)
		return api_fail(e, API_INVALID_FIELD,
		                "%s.throttle is only for action throttle", ctx);
	return 0;
}

static int quota_from_json(const json_t *body, struct limit *l,
                           struct api_err *e)
{
	memset(l, 0, Q_N * sizeof(*l));
	if (!json_is_object(body))
		return api_fail(
		    e, API_INVALID_FIELD,
		    "the body must be an object {\"limits\": {...}}");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)JMUT(body), k, v)
	{
		if (strcmp(k, "limits"))
			return api_fail(e, API_UNKNOWN_FIELD,
			                "unknown field '%s'", k);
	}
	json_t *lims = json_object_get(body, "limits");
	if (!lims)
		return api_fail(e, API_MISSING_FIELD, "limits is required");
	if (!json_is_object(lims))
		return api_fail(e, API_INVALID_FIELD,
		                "limits must be an object");
	json_object_foreach(lims, k, v)
	{
		int m;
		for (m = 0; m < Q_N && strcmp(metric_name[m], k); m++)
			;
		if (m == Q_N)
			return api_fail(e, API_UNKNOWN_FIELD,
			                "limits: unknown metric '%s' (known: "
			                "cpu_seconds io_bytes io_ops "
			                "memory_mib_hours)",
			                k);
		if (limit_from_json(v, k, &l[m], e))
			return -1;
	}
	return 0;
}

/* ---- GET / PUT ---- */

int64_t domain_lookup(sqlite3 *db, const char *name)
{
	sqlite3_stmt *q;
	int64_t id = -1;
	if (sqlite3_prepare_v2(db, "SELECT id FROM domains WHERE name=?", -1,
	                       &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	id = rc == SQLITE_ROW    ? sqlite3_column_int64(q, 0)
	     : rc == SQLITE_DONE ? 0
	                         : -1;
	sqlite3_finalize(q);
	return id;
}

void limit_row(sqlite3_stmt *q, int c, struct limit *l)
{
	memset(l, 0, sizeof(*l));
	l->set = true;
	l->lim = sqlite3_column_int64(q, c + 1);
	snprintf(l->action, sizeof(l->action), "%s",
	         (const char *)sqlite3_column_text(q, c + 2));
	for (int i = 0; i < T_N; i++) {
		l->has_t[i] = sqlite3_column_type(q, c + 3 + i) != SQLITE_NULL;
		l->t[i] = sqlite3_column_int64(q, c + 3 + i);
	}
}

int metric_of(const char *s)
{
	for (int m = 0; m < Q_N; m++)
		if (s && !strcmp(metric_name[m], s))
			return m;
	return -1;
}

/* The limits of a domain (table quotas or quota_state). */
int limits_load(sqlite3 *db, const char *table, int64_t domain, struct limit *l)
{
	char sql[256];
	sqlite3_stmt *q;
	memset(l, 0, Q_N * sizeof(*l));
	snprintf(sql, sizeof(sql),
	         "SELECT " LIMIT_COLS " FROM %s WHERE domain=?", table);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, domain);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int m = metric_of((const char *)sqlite3_column_text(q, 0));
		if (m >= 0)
			limit_row(q, 0, &l[m]);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static json_t *limit_json(const struct limit *l)
{
	json_t *o = json_pack("{s:I, s:s}", "limit", (json_int_t)l->lim,
	                      "action", l->action);
	if (!strcmp(l->action, "throttle")) {
		json_t *t = json_object();
		for (int i = 0; i < T_N; i++)
			if (l->has_t[i])
				json_object_set_new(t, throttle_name[i],
				                    json_integer(l->t[i]));
		json_object_set_new(o, "throttle", t);
	}
	return o;
}

/* Usage in the metric's unit, rounded down (exact up to 2^63). */
static json_t *usage_json(const struct mtd *t)
{
	json_t *o = json_object();
	for (int m = 0; m < Q_N; m++) {
		u128 v = t->use[m] / metric_scale(m);
		json_object_set_new(
		    o, metric_name[m],
		    json_integer(v > INT64_MAX ? INT64_MAX : (int64_t)v));
	}
	return o;
}

static json_t *quota_doc(sqlite3 *db, int64_t id, const char *domain,
                         int64_t now_s)
{
	struct limit l[Q_N], in[Q_N];
	struct mtd t = {.domain = id};
	char month[8];
	int64_t s, e;
	month_of(now_s, &s, &e, month);
	if (limits_load(db, "quotas", id, l) ||
	    limits_load(db, "quota_state", id, in) || mtd_init(db, &t, now_s))
		return NULL;
	json_t *lims = json_object(), *force = json_array();
	for (int m = 0; m < Q_N; m++) {
		if (l[m].set)
			json_object_set_new(lims, metric_name[m],
			                    limit_json(&l[m]));
		if (in[m].set)
			json_array_append_new(force,
			                      json_string(metric_name[m]));
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "domain", domain, "month",
	                 month, "limits", lims, "usage", usage_json(&t),
	                 "in_force", force);
}

json_t *quota_get(struct store *st, const char *domain, struct api_err *e)
{
	sqlite3 *db = store_db(st);
	if (!billing_name_ok(domain)) {
		api_fail(e, API_NOT_FOUND, "no domain '%s'", domain);
		return NULL;
	}
	bool own = sqlite3_get_autocommit(db); /* else: the caller's */
	if (own && tx_begin(db, false)) {
		api_fail(e, API_INTERNAL, "quota: %s", sqlite3_errmsg(db));
		return NULL;
	}
	json_t *doc = NULL;
	int64_t id = domain_lookup(db, domain);
	if (id == 0)
		api_fail(e, API_NOT_FOUND, "no domain '%s'", domain);
	else if (id < 0 ||
	         !(doc = quota_doc(db, id, domain, store_wall_ns() / SEC_NS)))
		api_fail(e, API_INTERNAL, "quota: %s", sqlite3_errmsg(db));
	if (own)
		tx_rollback(db);
	return doc;
}

static int limits_store(sqlite3 *db, int64_t id, const struct limit *l)
{
	sqlite3_stmt *q;
	char del[96];
	snprintf(del, sizeof(del), "DELETE FROM quotas WHERE domain=%lld",
	         (long long)id);
	if (sqlite3_exec(db, del, NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO quotas VALUES(?,?,?,?,?,?,?,?,?)",
	                       -1, &q, NULL))
		return -1;
	int rc = SQLITE_DONE;
	for (int m = 0; m < Q_N && rc == SQLITE_DONE; m++) {
		if (!l[m].set)
			continue;
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_text(q, 2, metric_name[m], -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, l[m].lim);
		sqlite3_bind_text(q, 4, l[m].action, -1, SQLITE_STATIC);
		for (int i = 0; i < T_N; i++)
			if (l[m].has_t[i])
				sqlite3_bind_int64(q, 5 + i, l[m].t[i]);
			else
				sqlite3_bind_null(q, 5 + i);
		sqlite3_bind_int64(q, 9, store_wall_ns());
		rc = sqlite3_step(q);
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int quota_put(struct store *st, const char *domain, const json_t *body,
              struct api_err *e)
{
	sqlite3 *db = store_db(st);
	struct limit l[Q_N];
	if (!billing_name_ok(domain))
		return api_fail(e, API_NOT_FOUND, "no domain '%s'", domain);
	/* In the caller's write transaction if one is open (the API checks
	 * If-Match in it), else in our own. */
	bool own = sqlite3_get_autocommit(db);
	if (own && tx_begin(db, true))
		return api_fail(e, API_INTERNAL, "quota: %s",
		                sqlite3_errmsg(db));
	int64_t id = domain_lookup(db, domain);
	if (id == 0) {
		if (own)
			tx_rollback(db);
		return api_fail(e, API_NOT_FOUND, "no domain '%s'", domain);
	}
	if (id < 0)
		goto sqlerr;
	if (quota_from_json(body, l, e)) {
		if (own)
			tx_rollback(db);
		return -1;
	}
	/* A new domain's running total starts from the rollups now; an
	 * existing one (and its pause bookkeeping) is kept. */
	struct mtd t = {.domain = id};
	int64_t now_s = store_wall_ns() / SEC_NS;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM quota_mtd WHERE domain=?", -1,
	                       &q, NULL))
		goto sqlerr;
	sqlite3_bind_int64(q, 1, id);
	int has = sqlite3_step(q);
	sqlite3_finalize(q);
	if (has != SQLITE_ROW && has != SQLITE_DONE)
		goto sqlerr;
	if (limits_store(db, id, l) ||
	    (has == SQLITE_DONE &&
	     (mtd_init(db, &t, now_s) || mtd_save(db, &t))) ||
	    (own && tx_commit(db)))
		goto sqlerr;
	return 0;
sqlerr:
	api_fail(e, API_INTERNAL, "quota: %s", sqlite3_errmsg(db));
	if (own)
		tx_rollback(db);
	return -1;
}
