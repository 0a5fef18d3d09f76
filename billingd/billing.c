/*
 * Plans: the prices per unit, the monthly base fee per domain and the
 * amounts it includes (docs/billing.md section 3). Seeded from
 * config/billing.conf when the store has none, then read and replaced
 * whole through the REST API. Invoices are in billing_invoice.c.
 *
 * A plan is one row of `plans`; customers.plan names one (NULL: the plan
 * called "default", which must therefore always exist). Money is integer
 * micro-units of the plan's currency; the configuration file writes it as
 * a decimal with at most 6 places, parsed exactly.
 */
#include "billing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing_int.h"
#include "schema.h"

#define PLANS_MAX 100
#define PRICE_MAX 1000000000000ll /* 1,000,000 currency units per unit */
#define BASE_MAX 1000000000000ll
#define INCL_MAX 1000000000ll

/* JSON and config names of the meters' prices and included amounts. */
static const char *const price_key[M_N] = {"cpu_hour", "memory_gib_month",
                                           "read_gib", "write_gib", "io_mops"};
static const char *const incl_key[M_N] = {"cpu_hours", "memory_gib_months",
                                          "read_gib", "write_gib", "io_mops"};
static const char *const conf_price[M_N] = {
    "cpu_hour", "memory_gib_month", "read_gib", "write_gib", "io_million_ops"};
static const char *const conf_incl[M_N] = {
    "included_cpu_hours", "included_memory_gib_months", "included_read_gib",
    "included_write_gib", "included_io_million_ops"};

#define PLAN_SELECT                                                            \
	"SELECT name,currency,base_micro,cpu_hour_micro,"                      \
	"memory_gib_month_micro,read_gib_micro,write_gib_micro,io_mops_micro," \
	"incl_cpu_hours,incl_memory_gib_months,incl_read_gib,incl_write_gib,"  \
	"incl_io_mops FROM plans"

static void plan_row(sqlite3_stmt *q, struct plan *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", sqlite3_column_text(q, 0));
	snprintf(p->currency, sizeof(p->currency), "%s",
	         sqlite3_column_text(q, 1));
	p->base_micro = sqlite3_column_int64(q, 2);
	for (int k = 0; k < M_N; k++) {
		p->price[k] = sqlite3_column_int64(q, 3 + k);
		p->incl[k] = sqlite3_column_int64(q, 3 + M_N + k);
	}
}

int plan_load(sqlite3 *db, const char *name, struct plan *p)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, PLAN_SELECT " WHERE name=?", -1, &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, name ? name : "default", -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		plan_row(q, p);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int plan_insert(sqlite3 *db, const struct plan *p)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "INSERT INTO plans VALUES(?,?,?,?,?,?,?,?,?,?,?,"
	                       "?,?,?)",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, p->currency, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, p->base_micro);
	for (int k = 0; k < M_N; k++) {
		sqlite3_bind_int64(q, 4 + k, p->price[k]);
		sqlite3_bind_int64(q, 4 + M_N + k, p->incl[k]);
	}
	sqlite3_bind_int64(q, 4 + 2 * M_N, store_wall_ns());
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static bool currency_ok(const char *c)
{
	return strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' &&
	       c[1] <= 'Z' && c[2] >= 'A' && c[2] <= 'Z';
}

/* Replace every plan by v[0..n) in the open write transaction. Refuses
 * (API_CONFLICT) to drop a plan a customer is on. */
static int plans_replace(sqlite3 *db, const struct plan *v, size_t n,
                         struct api_err *e)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT DISTINCT plan FROM customers WHERE plan "
	                       "IS NOT NULL ORDER BY plan",
	                       -1, &q, NULL))
		return api_fail(e, API_INTERNAL, "plans: %s",
		                sqlite3_errmsg(db));
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *used = (const char *)sqlite3_column_text(q, 0);
		size_t i;
		for (i = 0; i < n && strcmp(v[i].name, used); i++)
			;
		if (i == n) {
			api_fail(e, API_CONFLICT,
			         "plan '%s' is in use by a customer", used);
			sqlite3_finalize(q);
			return -1;
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE ||
	    sqlite3_exec(db, "DELETE FROM plans", NULL, NULL, NULL))
		return api_fail(e, API_INTERNAL, "plans: %s",
		                sqlite3_errmsg(db));
	for (size_t i = 0; i < n; i++)
		if (plan_insert(db, &v[i]))
			return api_fail(e, API_INTERNAL, "plans: %s",
			                sqlite3_errmsg(db));
	return 0;
}

/* ---- the configuration file ---- */

/* "12", "0.5", "1.000001": exact micro-units, at most max. */
static int parse_money(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;
	int frac = -1;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || frac == 6)
			return -1;
		if (v > max)
			return -1;
		v = v * 10 + (*s - '0');
		if (frac >= 0)
			frac++;
	}
	if (frac == 0)
		return -1; /* "1." */
	for (int i = frac < 0 ? 0 : frac; i < 6; i++) {
		if (v > max)
			return -1;
		v *= 10;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_count(const char *s, int64_t max, int64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > (unsigned long long)max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	                 e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* One "key = value" of a plan section. 0, or -1 with the reason. */
static int conf_plan_key(struct plan *p, const char *k, const char *v,
                         const char **why)
{
	if (!strcmp(k, "currency")) {
		if (!currency_ok(v)) {
			*why = "currency must be 3 capital letters (ISO 4217)";
			return -1;
		}
		snprintf(p->currency, sizeof(p->currency), "%s", v);
		return 0;
	}
	if (!strcmp(k, "base")) {
		*why = "base must be a decimal amount, at most 6 places, "
		       "at most 1000000";
		return parse_money(v, BASE_MAX, &p->base_micro);
	}
	for (int m = 0; m < M_N; m++) {
		if (!strcmp(k, conf_price[m])) {
			*why = "a price must be a decimal amount, at most 6 "
			       "places, at most 1000000";
			return parse_money(v, PRICE_MAX, &p->price[m]);
		}
		if (!strcmp(k, conf_incl[m])) {
			*why = "an included amount must be an integer "
			       "0..1000000000";
			return parse_count(v, INCL_MAX, &p->incl[m]);
		}
	}
	*why = "unknown key";
	return -1;
}

struct conf {
	struct plan v[PLANS_MAX];
	size_t n;
	char currency[4];
	unsigned priced[PLANS_MAX]; /* bit m: price m given; bit M_N: base */
	unsigned line[PLANS_MAX];   /* of its [plan NAME] */
	unsigned cur;               /* the line being read */
};

static int conf_line(struct conf *c, char *s, const char **why)
{
	if (!strncmp(s, "[plan ", 6)) {
		char *end = strchr(s, ']');
		if (!end || end[1]) {
			*why = "expected [plan NAME]";
			return -1;
		}
		*end = 0;
		char *name = trim(s + 6);
		if (!billing_name_ok(name)) {
			*why = "a plan name is 1..31 of [A-Za-z0-9_.-]";
			return -1;
		}
		for (size_t i = 0; i < c->n; i++)
			if (!strcmp(c->v[i].name, name)) {
				*why = "plan defined twice";
				return -1;
			}
		if (c->n == PLANS_MAX) {
			*why = "too many plans (at most 100)";
			return -1;
		}
		c->line[c->n] = c->cur;
		struct plan *p = &c->v[c->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", name);
		snprintf(p->currency, sizeof(p->currency), "%s", c->currency);
		return 0;
	}
	char *eq = strchr(s, '=');
	if (!eq) {
		*why = "expected key = value or [plan NAME]";
		return -1;
	}
	*eq = 0;
	char *k = trim(s), *v = trim(eq + 1);
	if (!c->n) {
		if (strcmp(k, "currency") || !currency_ok(v)) {
			*why = strcmp(k, "currency")
			           ? "only currency may come before the first "
			             "[plan NAME]"
			           : "currency must be 3 capital letters";
			return -1;
		}
		snprintf(c->currency, sizeof(c->currency), "%s", v);
		return 0;
	}
	if (conf_plan_key(&c->v[c->n - 1], k, v, why))
		return -1;
	for (int m = 0; m < M_N; m++)
		if (!strcmp(k, conf_price[m]))
			c->priced[c->n - 1] |= 1u << m;
	if (!strcmp(k, "base"))
		c->priced[c->n - 1] |= 1u << M_N;
	return 0;
}

static int conf_read(struct conf *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[512];
	unsigned no = 0;
	const char *why = NULL;
	snprintf(c->currency, sizeof(c->currency), "EUR");
	while (fgets(line, sizeof(line), f)) {
		c->cur = ++no;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *s = trim(line);
		if (*s && conf_line(c, s, &why))
			goto bad;
	}
	fclose(f);
	for (size_t i = 0; i < c->n; i++)
		if (c->priced[i] != (1u << (M_N + 1)) - 1) {
			snprintf(
			    err, errlen,
			    "%s:%u: plan %s: base and every price "
			    "(cpu_hour memory_gib_month read_gib write_gib "
			    "io_million_ops) must be given",
			    path, c->line[i], c->v[i].name);
			return -1;
		}
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].name, "default"))
			return 0;
	snprintf(err, errlen, "%s:%u: no [plan default]", path, no);
	return -1;
bad:
	fclose(f);
	snprintf(err, errlen, "%s:%u: %s", path, no, why);
	return -1;
}

/* 1 the store has plans, 0 not, -1 error. */
static int has_plans(sqlite3 *db)
{
	sqlite3_stmt *q;
	int has = -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM plans", -1, &q, NULL))
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		has = sqlite3_column_int(q, 0) > 0;
	sqlite3_finalize(q);
	return has;
}

int billing_seed_plans(struct store *st, const char *path, char *err,
                       size_t errlen)
{
	sqlite3 *db = store_db(st);
	struct api_err e;
	int has = has_plans(db);
	if (has != 0) { /* stored plans win: the file is not even read */
		if (has < 0)
			snprintf(err, errlen, "plans: %s", sqlite3_errmsg(db));
		return has < 0 ? -1 : 0;
	}
	struct conf *c = calloc(1, sizeof(*c));
	int rc = -1;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (conf_read(c, path, err, errlen))
		goto out;
	/* inside the write transaction again: another process may have
	 * seeded meanwhile */
	if (tx_begin(db, true) || (has = has_plans(db)) < 0 ||
	    (!has && plans_replace(db, c->v, c->n, &e)) || tx_commit(db)) {
		snprintf(err, errlen, "plans: %s", sqlite3_errmsg(db));
		tx_rollback(db);
		goto out;
	}
	rc = 0;
out:
	free(c);
	return rc;
}

/* ---- REST ---- */

static json_t *plan_json(const struct plan *p)
{
	json_t *prices = json_object(), *incl = json_object();
	for (int m = 0; m < M_N; m++) {
		json_object_set_new(prices, price_key[m],
		                    json_integer(p->price[m]));
		json_object_set_new(incl, incl_key[m],
		                    json_integer(p->incl[m]));
	}
	return json_pack("{s:s, s:s, s:I, s:o, s:o}", "name", p->name,
	                 "currency", p->currency, "base_micro",
	                 (json_int_t)p->base_micro, "prices_micro", prices,
	                 "included", incl);
}

json_t *billing_plans_get(struct store *st, struct api_err *e)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, PLAN_SELECT " ORDER BY name", -1, &q,
	                       NULL)) {
		api_fail(e, API_INTERNAL, "plans: %s", sqlite3_errmsg(db));
		return NULL;
	}
	json_t *arr = json_array();
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct plan p;
		plan_row(q, &p);
		json_array_append_new(arr, plan_json(&p));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		api_fail(e, API_INTERNAL, "plans: %s", sqlite3_errmsg(db));
		return NULL;
	}
	return json_pack("{s:o}", "plans", arr);
}

/* An integer field of o in [0, max]; absent is an error when required. */
static int get_int(const json_t *o, const char *k, int64_t max, bool required,
                   int64_t *out, const char *ctx, struct api_err *e)
{
	json_t *v = json_object_get(o, k);
	if (!v) {
		if (!required)
			return 0;
		return api_fail(e, API_MISSING_FIELD, "%s: %s is required", ctx,
		                k);
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return api_fail(e, API_INVALID_FIELD,
		                "%s: %s must be an integer 0..%lld", ctx, k,
		                (long long)max);
	*out = json_integer_value(v);
	return 0;
}

/* Every key of o must be one of keys[0..n). */
static int only_keys(const json_t *o, const char *const *keys, int n,
                     const char *ctx, struct api_err *e)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)JMUT(o), k, v)
	{
		int i;
		for (i = 0; i < n && strcmp(keys[i], k); i++)
			;
		if (i == n)
			return api_fail(e, API_UNKNOWN_FIELD,
			                "%s: unknown field '%s'", ctx, k);
	}
	return 0;
}

static int plan_from_json(const json_t *o, size_t idx, struct plan *p,
                          struct api_err *e)
{
	static const char *const keys[] = {"name", "currency", "base_micro",
	                                   "prices_micro", "included"};
	char ctx[64];
	snprintf(ctx, sizeof(ctx), "plans[%zu]", idx);
	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return api_fail(e, API_INVALID_FIELD, "%s must be an object",
		                ctx);
	if (only_keys(o, keys, 5, ctx, e))
		return -1;
	json_t *name = json_object_get(o, "name");
	json_t *cur = json_object_get(o, "currency");
	json_t *prices = json_object_get(o, "prices_micro");
	json_t *incl = json_object_get(o, "included");
	if (!name || !cur || !prices)
		return api_fail(e, API_MISSING_FIELD,
		                "%s: name, currency, base_micro and "
		                "prices_micro are required",
		                ctx);
	if (!json_is_string(name) || !billing_name_ok(json_string_value(name)))
		return api_fail(e, API_INVALID_FIELD,
		                "%s: name must be 1..31 of [A-Za-z0-9_.-]",
		                ctx);
	if (!json_is_string(cur) || !currency_ok(json_string_value(cur)))
		return api_fail(e, API_INVALID_FIELD,
		                "%s: currency must be 3 capital letters", ctx);
	snprintf(p->name, sizeof(p->name), "%s", json_string_value(name));
	snprintf(p->currency, sizeof(p->currency), "%s",
	         json_string_value(cur));
	if (get_int(o, "base_micro", BASE_MAX, true, &p->base_micro, ctx, e))
		return -1;
	if (!json_is_object(prices) || (incl && !json_is_object(incl)))
		return api_fail(e, API_INVALID_FIELD,
		                "%s: prices_micro and included must be objects",
		                ctx);
	snprintf(ctx, sizeof(ctx), "plans[%zu].prices_micro", idx);
	if (only_keys(prices, price_key, M_N, ctx, e))
		return -1;
	for (int m = 0; m < M_N; m++)
		if (get_int(prices, price_key[m], PRICE_MAX, true, &p->price[m],
		            ctx, e))
			return -1;
	snprintf(ctx, sizeof(ctx), "plans[%zu].included", idx);
	if (incl && only_keys(incl, incl_key, M_N, ctx, e))
		return -1;
	for (int m = 0; incl && m < M_N; m++)
		if (get_int(incl, incl_key[m], INCL_MAX, false, &p->incl[m],
		            ctx, e))
			return -1;
	return 0;
}

static int plans_from_json(const json_t *body, struct plan *v, size_t *n,
                           struct api_err *e)
{
	static const char *const keys[] = {"plans"};
	if (!json_is_object(body))
		return api_fail(
		    e, API_INVALID_FIELD,
		    "the body must be an object {\"plans\": [...]}");
	if (only_keys(body, keys, 1, "body", e))
		return -1;
	json_t *arr = json_object_get(body, "plans");
	if (!arr)
		return api_fail(e, API_MISSING_FIELD, "plans is required");
	if (!json_is_array(arr) || json_array_size(arr) < 1 ||
	    json_array_size(arr) > PLANS_MAX)
		return api_fail(e, API_INVALID_FIELD,
		                "plans must be an array of 1..%d plans",
		                PLANS_MAX);
	bool has_default = false;
	*n = json_array_size(arr);
	for (size_t i = 0; i < *n; i++) {
		if (plan_from_json(json_array_get(arr, i), i, &v[i], e))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(v[j].name, v[i].name))
				return api_fail(e, API_INVALID_FIELD,
				                "plans[%zu]: plan '%s' given "
				                "twice",
				                i, v[i].name);
		has_default |= !strcmp(v[i].name, "default");
	}
	if (!has_default)
		return api_fail(e, API_INVALID_FIELD,
		                "a plan named 'default' is required (customers "
		                "without a plan are on it)");
	return 0;
}

int billing_plans_put(struct store *st, const json_t *body, struct api_err *e)
{
	sqlite3 *db = store_db(st);
	struct plan *v = calloc(PLANS_MAX, sizeof(*v));
	size_t n = 0;
	int rc = -1;
	if (!v)
		return api_fail(e, API_INTERNAL, "out of memory");
	/* In the caller's write transaction if one is open (the API checks
	 * If-Match in it), else in our own. */
	bool own = sqlite3_get_autocommit(db);
	if (plans_from_json(body, v, &n, e))
		goto out;
	if (own && tx_begin(db, true)) {
		api_fail(e, API_INTERNAL, "plans: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (plans_replace(db, v, n, e))
		goto fail;
	if (own && tx_commit(db)) {
		api_fail(e, API_INTERNAL, "plans: %s", sqlite3_errmsg(db));
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	if (own)
		tx_rollback(db);
out:
	free(v);
	return rc;
}
