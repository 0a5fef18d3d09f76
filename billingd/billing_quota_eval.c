/*
 * Quota enforcement: month-to-date usage per limited domain and what is in
 * force (quota.c's opening comment and docs/billing.md section 6 have the
 * rules). quota_evaluate() runs in one write transaction after every
 * committed METER batch; its cost is one rowid range of new deltas, two
 * small bulk reads and a write per changed domain - or, with no quota,
 * limit in force or running total anywhere, one read and no transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "billing_quota.h"
#include "desired.h"

#define ACTION_RETRY_S 10
#define RETRY_FAILED_S 60

/* ---- month-to-date usage ---- */

static int mtd_cb(void *ctx, int64_t domain, int64_t bucket_s,
                  const struct meter_sum *m)
{
	struct mtd *t = ctx;
	(void)domain;
	(void)bucket_s;
	t->use[Q_CPU] += m->cpu_ns;
	t->use[Q_IO_BYTES] += m->read_bytes + m->write_bytes;
	t->use[Q_IO_OPS] += m->read_ops + m->write_ops;
	t->use[Q_MEM] += m->mem_page_ns;
	return 0;
}

static int64_t max_delta_id(sqlite3 *db)
{
	sqlite3_stmt *q;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db,
	                       "SELECT coalesce(max(id),0) FROM usage_delta",
	                       -1, &q, NULL))
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

int mtd_init(sqlite3 *db, struct mtd *t, int64_t now_s)
{
	int64_t start, end;
	char name[8];
	month_of(now_s, &start, &end, name);
	t->month_s = start;
	memset(t->use, 0, sizeof(t->use));
	t->upto = max_delta_id(db);
	t->dirty = true;
	if (t->upto < 0)
		return -1;
	return usage_scan(db, t->domain, start, end, 3600, t->upto, mtd_cb, t);
}

#define MTD_SAVE "INSERT OR REPLACE INTO quota_mtd VALUES(?,?,?,?,?,?,?,?,?)"

/* Write t with the prepared MTD_SAVE statement q. */
static int mtd_write(sqlite3_stmt *q, const struct mtd *t)
{
	char mem[U128_DIGITS];
	u128_str(t->use[Q_MEM], mem);
	sqlite3_bind_int64(q, 1, t->domain);
	sqlite3_bind_int64(q, 2, t->month_s);
	sqlite3_bind_int64(q, 3, t->upto);
	for (int m = 0; m < Q_MEM; m++) /* below 2^63: a month of one domain */
		sqlite3_bind_int64(q, 4 + m, (int64_t)t->use[m]);
	sqlite3_bind_text(q, 7, mem, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(q, 8, t->paused);
	sqlite3_bind_int64(q, 9, t->next_ns);
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int mtd_save(sqlite3 *db, const struct mtd *t)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, MTD_SAVE, -1, &q, NULL))
		return -1;
	int rc = mtd_write(q, t);
	sqlite3_finalize(q);
	return rc;
}

/* Every quota_mtd row, sorted by domain. */
static int mtd_load_all(sqlite3 *db, struct mtd **out, size_t *n)
{
	sqlite3_stmt *q;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT domain,month_unix_s,upto_delta_id,cpu_ns,"
	        "io_bytes,io_ops,mem_page_ns,paused,"
	        "pause_sent_unix_ns FROM quota_mtd ORDER BY "
	        "domain",
	        -1, &q, NULL))
		return -1;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			struct mtd *nv = realloc(*out, cap * sizeof(*nv));
			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			*out = nv;
		}
		struct mtd *t = &(*out)[(*n)++];
		memset(t, 0, sizeof(*t));
		t->domain = sqlite3_column_int64(q, 0);
		t->month_s = sqlite3_column_int64(q, 1);
		t->upto = sqlite3_column_int64(q, 2);
		for (int m = 0; m < Q_MEM; m++)
			t->use[m] = (uint64_t)sqlite3_column_int64(q, 3 + m);
		if (u128_parse((const char *)sqlite3_column_text(q, 6),
		               &t->use[Q_MEM]))
			t->use[Q_MEM] = 0;
		t->paused = sqlite3_column_int(q, 7);
		t->next_ns = sqlite3_column_int64(q, 8);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int cmp_mtd(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = ((const struct mtd *)b)->domain;
	return x < y ? -1 : x > y;
}

static struct mtd *mtd_find(struct mtd *v, size_t n, int64_t domain)
{
	return bsearch(&domain, v, n, sizeof(*v), cmp_mtd);
}

/* Add the deltas (from, to] of the tracked domains whose end falls in
 * their row's month and which the row has not counted yet. */
static int mtd_advance(sqlite3 *db, struct mtd *v, size_t n, int64_t from,
                       int64_t to)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT u.id,bd.domain,(u.end_ns+b.wall_offset_ns)/1000000000,"
	        "u.cpu_ns,u.blk_read_bytes,u.blk_write_bytes,u.blk_read_ops,"
	        "u.blk_write_ops,u.mem_page_ns FROM usage_delta u JOIN boots b "
	        "ON b.id=u.boot JOIN boot_domains bd ON bd.boot=u.boot AND "
	        "bd.domid=u.domid WHERE u.id>?1 AND u.id<=?2",
	        -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, from);
	sqlite3_bind_int64(q, 2, to);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct mtd *t = mtd_find(v, n, sqlite3_column_int64(q, 1));
		if (!t || sqlite3_column_int64(q, 0) <= t->upto)
			continue;
		int64_t end_s = sqlite3_column_int64(q, 2), ms, me;
		char name[8];
		month_of(t->month_s, &ms, &me, name);
		if (end_s < ms || end_s >= me)
			continue;
		uint64_t c[6];
		for (int i = 0; i < 6; i++)
			c[i] = (uint64_t)sqlite3_column_int64(q, 3 + i);
		t->use[Q_CPU] += c[0];
		t->use[Q_IO_BYTES] += (u128)c[1] + c[2];
		t->use[Q_IO_OPS] += (u128)c[3] + c[4];
		t->use[Q_MEM] += c[5];
		t->dirty = true;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (v[i].upto < to) {
			v[i].upto = to;
			v[i].dirty = true;
		}
	return 0;
}

/* ---- evaluation ---- */

struct eval {
	sqlite3 *db;
	struct store *st;
	int64_t now_ns, month_s;
	struct mtd *v;
	size_t n;
	struct lrow *quotas, *state; /* read once, after new_month() */
	size_t nquotas, nstate;
	bool desired_changed;
};

static int event(struct eval *ev, int64_t domain, int m, const char *kind,
                 const char *action, const u128 *usage, int64_t lim,
                 const char *reason, int status)
{
	sqlite3_stmt *q;
	char use[U128_DIGITS];
	if (sqlite3_prepare_v2(ev->db,
	                       "INSERT INTO quota_events(unix_ns,domain,metric,"
	                       "kind,action,usage,lim,reason,status) SELECT "
	                       "?,name,?,?,?,?,?,?,? FROM domains WHERE id=?",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, ev->now_ns);
	if (m >= 0)
		sqlite3_bind_text(q, 2, metric_name[m], -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, kind, -1, SQLITE_STATIC);
	if (action)
		sqlite3_bind_text(q, 4, action, -1, SQLITE_STATIC);
	if (usage) {
		u128_str(*usage / metric_scale(m), use);
		sqlite3_bind_text(q, 5, use, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 6, lim);
	}
	if (reason)
		sqlite3_bind_text(q, 7, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, status);
	sqlite3_bind_int64(q, 9, domain);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static uint32_t throttle_mask(const struct limit *l)
{
	uint32_t k = 0;
	for (int i = 0; i < T_N; i++)
		if (l->has_t[i])
			k |= 1u << throttle_kv[i];
	return k;
}

/* Does any metric of domain other than `except` still suspend it? */
static int other_suspend(sqlite3 *db, int64_t domain, int except)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM quota_state WHERE domain=? AND "
	                       "action='suspend' AND metric<>?",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, domain);
	sqlite3_bind_text(q, 2, metric_name[except], -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int state_exec(struct eval *ev, const char *sql, int64_t domain, int m,
                      const struct limit *l)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(ev->db, sql, -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, domain);
	sqlite3_bind_text(q, 2, metric_name[m], -1, SQLITE_STATIC);
	if (l) {
		sqlite3_bind_int64(q, 3, ev->month_s);
		sqlite3_bind_int64(q, 4, l->lim);
		sqlite3_bind_text(q, 5, l->action, -1, SQLITE_STATIC);
		for (int i = 0; i < T_N; i++)
			if (l->has_t[i])
				sqlite3_bind_int64(q, 6 + i, l->t[i]);
		sqlite3_bind_int64(q, 10, ev->now_ns);
	}
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A limit in force (applied as `in`) ends. */
static int lift(struct eval *ev, struct mtd *t, int m, const struct limit *in,
                const char *reason)
{
	if (state_exec(ev,
	               "DELETE FROM quota_state WHERE domain=? AND metric=?",
	               t->domain, m, NULL) ||
	    event(ev, t->domain, m, "lifted", in->action, &t->use[m], in->lim,
	          reason, 0))
		return -1;
	if (!strcmp(in->action, "throttle")) {
		ev->desired_changed = true;
		return desired_bump(ev->st, t->domain, throttle_mask(in));
	}
	if (!strcmp(in->action, "suspend")) {
		int o = other_suspend(ev->db, t->domain, m);
		if (o < 0)
			return -1;
		if (!o && t->paused) {
			t->paused = t->paused == 1 ? 0 : 3; /* 1: never sent */
			t->next_ns = 0;
			t->dirty = true;
		}
	}
	return 0;
}

/* A limit is exhausted: put its action in force. */
static int cross(struct eval *ev, struct mtd *t, int m, const struct limit *l)
{
	if (state_exec(ev,
	               "INSERT INTO quota_state VALUES(?1,?2,?3,?4,?5,?6,?7,"
	               "?8,?9,?10)",
	               t->domain, m, l) ||
	    event(ev, t->domain, m, "crossed", l->action, &t->use[m], l->lim,
	          NULL, 0))
		return -1;
	if (!strcmp(l->action, "throttle")) {
		ev->desired_changed = true;
		return desired_bump(ev->st, t->domain, 0);
	}
	if (!strcmp(l->action, "suspend") && t->paused != 1 && t->paused != 2) {
		t->paused = t->paused == 3 ? 2 : 1; /* 3: unpause not sent */
		t->next_ns = 0;
		t->dirty = true;
	}
	return 0;
}

static bool same_limit(const struct limit *a, const struct limit *b)
{
	if (strcmp(a->action, b->action))
		return false;
	for (int i = 0; i < T_N; i++)
		if (a->has_t[i] != b->has_t[i] ||
		    (a->has_t[i] && a->t[i] != b->t[i]))
			return false;
	return true;
}

/* Every row of table quotas or quota_state, sorted by domain: one read
 * per evaluation rather than two per domain. */
struct lrow {
	int64_t domain;
	int m;
	struct limit l;
};

static int limits_bulk(sqlite3 *db, const char *table, struct lrow **out,
                       size_t *n)
{
	char sql[256];
	sqlite3_stmt *q;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	snprintf(sql, sizeof(sql),
	         "SELECT domain," LIMIT_COLS " FROM %s ORDER BY domain", table);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL))
		return -1;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int m = metric_of((const char *)sqlite3_column_text(q, 1));
		if (m < 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			struct lrow *nv = realloc(*out, cap * sizeof(*nv));
			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			*out = nv;
		}
		struct lrow *r = &(*out)[(*n)++];
		r->domain = sqlite3_column_int64(q, 0);
		r->m = m;
		limit_row(q, 1, &r->l);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The limits of domain from rows sorted by domain. */
static void limits_of(const struct lrow *v, size_t n, int64_t domain,
                      struct limit *l)
{
	size_t lo = 0, hi = n;
	memset(l, 0, Q_N * sizeof(*l));
	while (lo < hi) { /* the first row of domain */
		size_t mid = (lo + hi) / 2;
		if (v[mid].domain < domain)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && v[lo].domain == domain; lo++)
		l[v[lo].m] = v[lo].l;
}

/* Compare one domain's usage with its limits (quotas, and what is in
 * force, from the bulk reads); change what is in force. */
static int judge(struct eval *ev, struct mtd *t)
{
	struct limit l[Q_N], in[Q_N];
	limits_of(ev->quotas, ev->nquotas, t->domain, l);
	limits_of(ev->state, ev->nstate, t->domain, in);
	for (int m = 0; m < Q_N; m++) {
		bool over =
		    l[m].set && t->use[m] >= (u128)l[m].lim * metric_scale(m);
		if (in[m].set) {
			const char *why = !l[m].set ? "removed"
			                  : !same_limit(&l[m], &in[m])
			                      ? "changed"
			                  : !over ? "raised"
			                          : NULL;
			if (!why)
				continue;
			if (lift(ev, t, m, &in[m], why))
				return -1;
		}
		if (over && cross(ev, t, m, &l[m]))
			return -1;
	}
	return 0;
}

/* Recount t's month from the rollups and the deltas, keeping its
 * suspend bookkeeping. */
static int recount_one(struct eval *ev, struct mtd *t)
{
	int paused = t->paused;
	int64_t next = t->next_ns;
	if (mtd_init(ev->db, t, ev->now_ns / SEC_NS))
		return -1;
	t->paused = paused;
	t->next_ns = next;
	return 0;
}

/* A new month: everything in force is lifted, the totals start over. */
static int new_month(struct eval *ev, struct mtd *t)
{
	struct limit in[Q_N];
	if (limits_load(ev->db, "quota_state", t->domain, in))
		return -1;
	for (int m = 0; m < Q_N; m++)
		if (in[m].set && lift(ev, t, m, &in[m], "month"))
			return -1;
	return recount_one(ev, t);
}

static int add_action(struct quota_action **acts, size_t *n, size_t *cap,
                      sqlite3 *db, int64_t domain, enum quota_action_kind k)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct quota_action *na = realloc(*acts, nc * sizeof(*na));
		if (!na)
			return -1;
		*acts = na;
		*cap = nc;
	}
	struct quota_action *a = &(*acts)[*n];
	memset(a, 0, sizeof(*a));
	a->kind = k;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT name FROM domains WHERE id=?", -1,
	                       &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, domain);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		snprintf(a->name, sizeof(a->name), "%s",
		         (const char *)sqlite3_column_text(q, 0));
		(*n)++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Hand out the PAUSE/UNPAUSE due, save what changed, forget domains with
 * neither a quota nor anything in force. */
static int finish(struct eval *ev, struct quota_action **acts, size_t *nacts)
{
	size_t cap = 0;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(ev->db, MTD_SAVE, -1, &q, NULL))
		return -1;
	for (size_t i = 0; i < ev->n; i++) {
		struct mtd *t = &ev->v[i];
		if ((t->paused == 1 || t->paused == 3) &&
		    t->next_ns <= ev->now_ns) {
			if (add_action(acts, nacts, &cap, ev->db, t->domain,
			               t->paused == 1 ? QUOTA_PAUSE
			                              : QUOTA_UNPAUSE))
				goto fail;
			t->next_ns = ev->now_ns + ACTION_RETRY_S * SEC_NS;
			t->dirty = true;
		}
		if (t->dirty && mtd_write(q, t))
			goto fail;
	}
	sqlite3_finalize(q);
	return sqlite3_exec(ev->db,
	                    "DELETE FROM quota_mtd WHERE paused=0 AND domain "
	                    "NOT IN (SELECT domain FROM quotas) AND domain NOT "
	                    "IN (SELECT domain FROM quota_state)",
	                    NULL, NULL, NULL)
	           ? -1
	           : 0;
fail:
	sqlite3_finalize(q);
	return -1;
}

/* Domains with a quota but no running total yet (a quota row written by
 * an older billingd, or a row deleted): start one. */
static int mtd_missing(struct eval *ev)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
	        ev->db,
	        "SELECT DISTINCT domain FROM quotas WHERE domain "
	        "NOT IN (SELECT domain FROM quota_mtd) UNION "
	        "SELECT domain FROM quota_state WHERE domain NOT "
	        "IN (SELECT domain FROM quota_mtd)",
	        -1, &q, NULL))
		return -1;
	int rc, added = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct mtd t = {.domain = sqlite3_column_int64(q, 0)};
		if (mtd_init(ev->db, &t, ev->now_ns / SEC_NS) ||
		    mtd_save(ev->db, &t)) {
			rc = SQLITE_ERROR;
			break;
		}
		added++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? added : -1;
}

static int set_mark(sqlite3 *db, int64_t id)
{
	char q[128];
	snprintf(q, sizeof(q),
	         "UPDATE stats SET value=%lld WHERE name='quota_delta_id'",
	         (long long)id);
	return sqlite3_exec(db, q, NULL, NULL, NULL) ? -1 : 0;
}

static int evaluate(struct eval *ev, struct quota_action **acts, size_t *nacts)
{
	int64_t from = store_stat_get(ev->db, "quota_delta_id");
	int64_t to = max_delta_id(ev->db), lo = 0;
	if (from < 0 || to < 0 || mtd_missing(ev) < 0 ||
	    mtd_load_all(ev->db, &ev->v, &ev->n))
		return -1;
	if (!ev->n) /* no quota and nothing in force anywhere */
		return set_mark(ev->db, to);
	/* Retention deleted every delta and rowids started over: the ids
	 * the running totals remember mean nothing any more, recount. */
	bool recount = to < from;
	if (recount)
		from = 0;
	/* Each row skips the deltas up to its own mark, so none below the
	 * lowest needs reading. The stats mark is not advanced while no
	 * quota exists (quota_evaluate_ex()'s early exit), but every row
	 * has been started or advanced since: the range read stays one
	 * batch, however long the database went without a quota. */
	for (size_t i = 0; !recount && i < ev->n; i++)
		if (i == 0 || ev->v[i].upto < lo)
			lo = ev->v[i].upto;
	if (!recount && lo > from)
		from = lo < to ? lo : to;
	for (size_t i = 0; i < ev->n; i++) {
		struct mtd *t = &ev->v[i];
		if (t->month_s != ev->month_s && new_month(ev, t))
			return -1;
		if (recount && recount_one(ev, t))
			return -1;
	}
	if ((ev->n && mtd_advance(ev->db, ev->v, ev->n, from, to)) ||
	    limits_bulk(ev->db, "quotas", &ev->quotas, &ev->nquotas) ||
	    limits_bulk(ev->db, "quota_state", &ev->state, &ev->nstate))
		return -1;
	for (size_t i = 0; i < ev->n; i++)
		if (judge(ev, &ev->v[i]))
			return -1;
	if (finish(ev, acts, nacts))
		return -1;
	return set_mark(ev->db, to);
}

/* Is there any quota, limit in force or running total? 1, 0 or -1.
 * Without any, an evaluation has nothing to compare, lift or hand out,
 * and skips its write transaction: no wait for another writer's lock
 * (billingd --create-key, an API PUT), no WAL sync. A quota stored after
 * this read is seen by the next evaluation, as if stored after it. */
static int quota_any(sqlite3 *db)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT EXISTS(SELECT 1 FROM quotas) OR "
	                       "EXISTS(SELECT 1 FROM quota_state) OR "
	                       "EXISTS(SELECT 1 FROM quota_mtd)",
	                       -1, &q, NULL))
		return -1;
	int rc = sqlite3_step(q);
	int any = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) != 0 : -1;
	sqlite3_finalize(q);
	return any;
}

int quota_evaluate_ex(struct store *st, int64_t now_unix_ns,
                      struct quota_action **acts, size_t *nacts,
                      bool *desired_changed, char *err, size_t errlen)
{
	sqlite3 *db = store_db(st);
	int64_t end;
	char name[8];
	struct eval ev = {.db = db, .st = st, .now_ns = now_unix_ns};
	*acts = NULL;
	*nacts = 0;
	*desired_changed = false;
	month_of(now_unix_ns / SEC_NS, &ev.month_s, &end, name);
	int any = quota_any(db);
	if (any < 0)
		goto sqlerr;
	if (!any)
		return 0;
	if (tx_begin(db, true))
		goto sqlerr;
	if (evaluate(&ev, acts, nacts) || tx_commit(db)) {
		tx_rollback(db);
		free(*acts);
		*acts = NULL;
		*nacts = 0;
		goto fail;
	}
	free(ev.v);
	free(ev.quotas);
	free(ev.state);
	*desired_changed = ev.desired_changed;
	return 0;
fail:
	free(ev.v);
	free(ev.quotas);
	free(ev.state);
sqlerr:
	snprintf(err, errlen, "quota: %s", sqlite3_errmsg(db));
	return -1;
}

int quota_evaluate(struct store *st, int64_t now_unix_ns,
                   struct quota_action **acts, size_t *nacts, char *err,
                   size_t errlen)
{
	bool changed;
	return quota_evaluate_ex(st, now_unix_ns, acts, nacts, &changed, err,
	                         errlen);
}

int quota_action_done(struct store *st, const struct quota_action *a,
                      int status)
{
	sqlite3 *db = store_db(st);
	struct eval ev = {.db = db, .st = st, .now_ns = store_wall_ns()};
	bool pause = a->kind == QUOTA_PAUSE;
	if (tx_begin(db, true))
		return -1;
	int64_t id = domain_lookup(db, a->name);
	char q[256];
	if (status == 0)
		snprintf(q, sizeof(q),
		         "UPDATE quota_mtd SET paused=%d WHERE domain=%lld AND "
		         "paused=%d",
		         pause ? 2 : 0, (long long)id, pause ? 1 : 3);
	else
		snprintf(q, sizeof(q),
		         "UPDATE quota_mtd SET pause_sent_unix_ns=%lld WHERE "
		         "domain=%lld",
		         (long long)(ev.now_ns + RETRY_FAILED_S * SEC_NS),
		         (long long)id);
	if (id <= 0 || sqlite3_exec(db, q, NULL, NULL, NULL) ||
	    event(&ev, id, -1, pause ? "paused" : "unpaused", "suspend", NULL,
	          0, NULL, status) ||
	    tx_commit(db)) {
		tx_rollback(db);
		return -1;
	}
	return 0;
}
