/*
 * GET /domains/{name}/usage (docs/billing.md section 7).
 *
 * Buckets of 1 minute (from usage_1m), 1 hour (usage_1h) or 1 UTC day
 * (the sum of its 24 hourly buckets), plus the deltas the rollups have not
 * reached yet, so the newest bucket is current. Edges: the range asked for
 * is widened to whole buckets, [from rounded down to the step, to rounded
 * up); every bucket in it is listed (zeros where nothing was metered) and
 * the totals are exactly the sum of the listed buckets, i.e. of every
 * delta whose end falls in the widened range. The response gives the
 * widened range as "from" and "to".
 */
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "billing_int.h"

#define BUCKETS_MAX 10000

struct series_ctx {
	struct meter_sum *b;
	int64_t from_s, step_s;
	int64_t min_s; /* buckets starting before it are left out */
	size_t n;
};

static int bucket_cb(void *ctx, int64_t domain, int64_t bucket_s,
                     const struct meter_sum *m)
{
	struct series_ctx *c = ctx;
	(void)domain;
	if (bucket_s < c->min_s)
		return 0;
	int64_t i = (bucket_s - c->from_s) / c->step_s;
	if (i >= 0 && (size_t)i < c->n)
		meter_add(&c->b[i], m);
	return 0;
}

static json_t *u128_json(u128 v)
{
	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	char s[U128_DIGITS];
	u128_str(v, s);
	return json_string(s);
}

/* One bucket (or the totals) as JSON; mem_page_ns is a decimal string
 * (it exceeds 2^63 for large domains over long ranges). */
static json_t *sum_json(const struct meter_sum *m, const char *start)
{
	char mem[U128_DIGITS];
	u128_str(m->mem_page_ns, mem);
	json_t *o = json_object();
	if (start)
		json_object_set_new(o, "start", json_string(start));
	json_object_set_new(o, "samples", json_integer((json_int_t)m->n));
	json_object_set_new(o, "cpu_ns", u128_json(m->cpu_ns));
	json_object_set_new(o, "ready_ns", u128_json(m->ready_ns));
	json_object_set_new(o, "blk_read_ops", u128_json(m->read_ops));
	json_object_set_new(o, "blk_write_ops", u128_json(m->write_ops));
	json_object_set_new(o, "blk_read_bytes", u128_json(m->read_bytes));
	json_object_set_new(o, "blk_write_bytes", u128_json(m->write_bytes));
	json_object_set_new(o, "mem_page_ns", json_string(mem));
	json_object_set_new(o, "mem_pages_max",
	                    json_integer((json_int_t)m->mem_pages_max));
	return o;
}

static json_t *usage_doc(const char *domain, const struct series_ctx *c,
                         int64_t to_s, int64_t visible_from_s)
{
	struct meter_sum tot = {0};
	json_t *arr = json_array();
	char t[32], f[32], e[32];
	for (size_t i = 0; i < c->n; i++) {
		rfc3339(c->from_s + (int64_t)i * c->step_s, t);
		json_array_append_new(arr, sum_json(&c->b[i], t));
		meter_add(&tot, &c->b[i]);
	}
	rfc3339(c->from_s, f);
	rfc3339(to_s, e);
	const char *step = c->step_s == 60     ? "1m"
	                   : c->step_s == 3600 ? "1h"
	                                       : "1d";
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "domain",
	                        domain, "step", step, "from", f, "to", e,
	                        "buckets", arr, "totals", sum_json(&tot, NULL));
	if (visible_from_s > c->from_s) {
		rfc3339(visible_from_s, f);
		json_object_set_new(doc, "visible_from", json_string(f));
	}
	return doc;
}

static int64_t floor_to(int64_t t, int64_t step)
{
	int64_t r = t % step;
	return r < 0 ? t - r - step : t - r;
}

json_t *usage_query(struct store *st, const char *domain, int64_t from_unix_s,
                    int64_t to_unix_s, int64_t step_s, struct api_err *e)
{
	return usage_query_from(st, domain, from_unix_s, to_unix_s, step_s,
	                        INT64_MIN, e);
}

json_t *usage_query_from(struct store *st, const char *domain,
                         int64_t from_unix_s, int64_t to_unix_s, int64_t step_s,
                         int64_t visible_from_s, struct api_err *e)
{
	sqlite3 *db = store_db(st);
	if (step_s != 60 && step_s != 3600 && step_s != 86400) {
		api_fail(e, API_BAD_PARAMETER, "step must be 1m, 1h or 1d");
		return NULL;
	}
	/* 1970 .. 9999: what RFC 3339 can write */
	if (from_unix_s < 0 || to_unix_s > 253402300799 ||
	    from_unix_s >= to_unix_s) {
		api_fail(e, API_BAD_PARAMETER,
		         "from must be before to, both from 1970 to 9999");
		return NULL;
	}
	struct series_ctx c = {.step_s = step_s, .min_s = INT64_MIN};
	c.from_s = floor_to(from_unix_s, step_s);
	int64_t to_s = floor_to(to_unix_s + step_s - 1, step_s);
	c.n = (size_t)((to_s - c.from_s) / step_s);
	if (c.n > BUCKETS_MAX) {
		api_fail(e, API_BAD_PARAMETER,
		         "at most %d buckets per request (%zu asked for)",
		         BUCKETS_MAX, c.n);
		return NULL;
	}
	if (!billing_name_ok(domain)) {
		api_fail(e, API_NOT_FOUND, "no domain '%s'", domain);
		return NULL;
	}
	c.b = calloc(c.n, sizeof(*c.b));
	if (!c.b) {
		api_fail(e, API_INTERNAL, "out of memory");
		return NULL;
	}
	json_t *doc = NULL;
	sqlite3_stmt *q = NULL;
	if (tx_begin(db, false) ||
	    sqlite3_prepare_v2(db, "SELECT id FROM domains WHERE name=?", -1,
	                       &q, NULL))
		goto sqlerr;
	sqlite3_bind_text(q, 1, domain, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE) {
		api_fail(e, API_NOT_FOUND, "no domain '%s'", domain);
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto sqlerr;
	/* Before visible_from_s (a minute), the bucket holding it is summed
	 * from its minutes, leaving out those before it; whole buckets
	 * from the next step on. */
	int64_t whole = c.from_s;
	if (visible_from_s > c.from_s) {
		whole = floor_to(visible_from_s + step_s - 1, step_s);
		if (whole > to_s)
			whole = to_s;
		int64_t part =
		    whole - step_s > c.from_s ? whole - step_s : c.from_s;
		c.min_s = visible_from_s;
		if (part < whole && visible_from_s < whole &&
		    usage_scan(db, id, part, whole, 60, -1, bucket_cb, &c))
			goto sqlerr;
	}
	if (whole < to_s &&
	    usage_scan(db, id, whole, to_s, step_s, -1, bucket_cb, &c))
		goto sqlerr;
	doc = usage_doc(domain, &c, to_s, visible_from_s);
	goto out;
sqlerr:
	api_fail(e, API_INTERNAL, "usage: %s", sqlite3_errmsg(db));
out:
	tx_rollback(db);
	free(c.b);
	return doc;
}
