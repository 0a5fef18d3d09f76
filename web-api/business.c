/*
 * /v1/customers, /v1/plans, /v1/domains/{name}/quota and /usage,
 * /v1/invoices. The billing rules live behind billingd/billing.h; this
 * file authenticates, scopes to the tenant, parses parameters and turns
 * struct api_err into problem+json.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "billingd/billing.h"
#include "billingd/ownership.h"
#include "internal.h"

/* ---- customers ------------------------------------------------------------
 */

#define CUSTOMER_SQL                                                           \
	"SELECT id, name, email, created_unix_ns, updated_unix_ns%s FROM "     \
	"customers"

static bool has_plan_column(sqlite3 *db)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM pragma_table_info('customers') "
	                       "WHERE name='plan'",
	                       -1, &q, NULL))
		return false;
	bool yes = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return yes;
}

static json_t *customer_row(sqlite3_stmt *q, bool plan)
{
	char created[40], updated[40];
	format_rfc3339(sqlite3_column_int64(q, 3) / 1000000000, created,
	               sizeof(created));
	format_rfc3339(sqlite3_column_int64(q, 4) / 1000000000, updated,
	               sizeof(updated));
	const char *email = (const char *)sqlite3_column_text(q, 2);
	json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s}", "id",
	                      sqlite3_column_text(q, 0), "name",
	                      sqlite3_column_text(q, 1), "email",
	                      email ? json_string(email) : json_null(),
	                      "created", created, "updated", updated);
	if (o && plan) {
		const char *p = (const char *)sqlite3_column_text(q, 5);
		json_object_set_new(o, "plan",
		                    p ? json_string(p) : json_null());
	}
	return o;
}

/* Customers matching id (NULL: all) as a JSON array; NULL on error. */
static json_t *customers_query(struct call *c, const char *id)
{
	sqlite3 *db = store_db(c->st);
	bool plan = has_plan_column(db);
	char sql[256];
	snprintf(sql, sizeof(sql), CUSTOMER_SQL "%s ORDER BY id",
	         plan ? ", plan" : "", id ? " WHERE id=?" : "");
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL))
		return NULL;
	if (id)
		sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	json_t *a = json_array();
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(a, customer_row(q, plan));
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int h_customers_list(struct call *c)
{
	json_t *a = customers_query(c, c->who.admin ? NULL : c->who.customer);
	if (!a)
		return reply_err(c, API_INTERNAL, "listing customers failed");
	return reply_json(c, 200, json_pack("{s:o}", "customers", a));
}

int h_customer_get(struct call *c)
{
	if (!c->who.admin && strcmp(c->arg, c->who.customer))
		return reply_err(c, API_NOT_FOUND, "no customer '%.64s'",
		                 c->arg);
	json_t *a = customers_query(c, c->arg);
	if (!a)
		return reply_err(c, API_INTERNAL, "reading customer failed");
	if (!json_array_size(a)) {
		json_decref(a);
		return reply_err(c, API_NOT_FOUND, "no customer '%.64s'",
		                 c->arg);
	}
	json_t *o = json_incref(json_array_get(a, 0));
	json_decref(a);
	etag_of(o, c->etag, sizeof(c->etag));
	return reply_json(c, 200, o);
}

struct customer_in {
	const char *id, *name, *email, *plan;
	bool email_null, plan_given;
};

/* Validate a customer body; id_allowed: POST (id in the body). */
static int customer_fields(struct call *c, json_t *b, struct customer_in *in,
                           bool id_allowed)
{
	const char *key;
	json_t *v;
	memset(in, 0, sizeof(*in));
	json_object_foreach(b, key, v)
	{
		bool nullable = !strcmp(key, "email") || !strcmp(key, "plan");
		const char **dst = !strcmp(key, "name")    ? &in->name
		                   : !strcmp(key, "email") ? &in->email
		                   : !strcmp(key, "plan")  ? &in->plan
		                   : (id_allowed && !strcmp(key, "id"))
		                       ? &in->id
		                       : NULL;
		if (!dst) {
			reply_err(c, API_UNKNOWN_FIELD, "unknown field '%.64s'",
			          key);
			return -1;
		}
		if (!strcmp(key, "plan"))
			in->plan_given = true;
		if (json_is_null(v) && nullable)
			continue;
		if (!json_is_string(v)) {
			reply_err(c, API_INVALID_FIELD, "%s must be a string%s",
			          key, nullable ? " or null" : "");
			return -1;
		}
		*dst = json_string_value(v);
	}
	if (id_allowed && !in->id) {
		reply_err(c, API_MISSING_FIELD, "id is required");
		return -1;
	}
	if (!in->name) {
		reply_err(c, API_MISSING_FIELD, "name is required");
		return -1;
	}
	if (in->id && !ident_valid(in->id, API_CUSTOMER_MAX)) {
		reply_err(c, API_INVALID_FIELD,
		          "id must be 1..%d characters of [A-Za-z0-9_.-]",
		          API_CUSTOMER_MAX);
		return -1;
	}
	size_t nl = strlen(in->name);
	if (nl < 1 || nl > 200) {
		reply_err(c, API_INVALID_FIELD, "name must be 1..200 bytes");
		return -1;
	}
	if (in->email && (strlen(in->email) > 254 || !strchr(in->email, '@'))) {
		reply_err(c, API_INVALID_FIELD,
		          "email must be an address of at most 254 bytes");
		return -1;
	}
	sqlite3 *db = store_db(c->st);
	if (in->plan_given && !has_plan_column(db)) {
		reply_err(c, API_UNKNOWN_FIELD,
		          "plan: plans are not available in this database");
		return -1;
	}
	if (in->plan) {
		sqlite3_stmt *q;
		/* No plans table yet (billing not migrated): skip. */
		if (!sqlite3_prepare_v2(db, "SELECT 1 FROM plans WHERE name=?",
		                        -1, &q, NULL)) {
			sqlite3_bind_text(q, 1, in->plan, -1, SQLITE_STATIC);
			bool found = sqlite3_step(q) == SQLITE_ROW;
			sqlite3_finalize(q);
			if (!found) {
				reply_err(c, API_INVALID_FIELD,
				          "plan: no plan '%.64s'", in->plan);
				return -1;
			}
		}
	}
	return 0;
}

static int customer_write(struct call *c, const struct customer_in *in,
                          const char *id, bool create)
{
	sqlite3 *db = store_db(c->st);
	bool plan = has_plan_column(db);
	char sql[320];
	if (create)
		snprintf(sql, sizeof(sql),
		         "INSERT INTO customers(id, name, email, "
		         "created_unix_ns, updated_unix_ns%s) VALUES(?1, ?2, "
		         "?3, ?4, ?4%s) ON CONFLICT(id) DO NOTHING",
		         plan ? ", plan" : "", plan ? ", ?5" : "");
	else
		snprintf(sql, sizeof(sql),
		         "UPDATE customers SET name=?2, email=?3, "
		         "updated_unix_ns=?4%s WHERE id=?1",
		         plan ? ", plan=?5" : "");
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL))
		return reply_err(c, API_INTERNAL, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, in->name, -1, SQLITE_STATIC);
	if (in->email)
		sqlite3_bind_text(q, 3, in->email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, store_wall_ns());
	if (plan && in->plan)
		sqlite3_bind_text(q, 5, in->plan, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return reply_err(c, API_INTERNAL, "%s", sqlite3_errmsg(db));
	if (!sqlite3_changes(db))
		return create ? reply_err(c, API_CONFLICT,
		                          "customer '%s' exists already", id)
		              : reply_err(c, API_NOT_FOUND,
		                          "no customer '%.64s'", id);
	json_t *a = customers_query(c, id);
	if (!a || !json_array_size(a)) {
		json_decref(a);
		return reply_err(c, API_INTERNAL, "reading customer failed");
	}
	json_t *o = json_incref(json_array_get(a, 0));
	json_decref(a);
	if (create)
		snprintf(c->location, sizeof(c->location), "/v1/customers/%s",
		         id);
	etag_of(o, c->etag, sizeof(c->etag));
	return reply_json(c, create ? 201 : 200, o);
}

int h_customer_create(struct call *c)
{
	if (need_admin(c))
		return ROUTE_DONE;
	json_t *b = body_object(c, false);
	if (!b)
		return ROUTE_DONE;
	struct customer_in in;
	int rc = customer_fields(c, b, &in, true)
	             ? ROUTE_DONE
	             : customer_write(c, &in, in.id, true);
	json_decref(b);
	return rc;
}

int h_customer_put(struct call *c)
{
	if (!c->who.admin) {
		if (strcmp(c->arg, c->who.customer))
			return reply_err(c, API_NOT_FOUND,
			                 "no customer '%.64s'", c->arg);
		return need_admin(c);
	}
	json_t *b = body_object(c, false);
	if (!b)
		return ROUTE_DONE;
	struct customer_in in;
	if (customer_fields(c, b, &in, false)) {
		json_decref(b);
		return ROUTE_DONE;
	}
	/* If-Match is checked against the record in the transaction that
	 * writes it, so two panels cannot both win on the same ETag. */
	if (store_begin(c->st)) {
		json_decref(b);
		return reply_err(c, API_INTERNAL, "%s",
		                 sqlite3_errmsg(store_db(c->st)));
	}
	json_t *cur = customers_query(c, c->arg);
	char tag[40];
	if (cur && json_array_size(cur))
		etag_of(json_array_get(cur, 0), tag, sizeof(tag));
	if (!cur || !json_array_size(cur) || !if_match_tag(c, tag)) {
		store_rollback(c->st);
		json_decref(b);
		int rc =
		    !cur ? reply_err(c, API_INTERNAL, "reading customer failed")
		    : !json_array_size(cur)
		        ? reply_err(c, API_NOT_FOUND, "no customer '%.64s'",
		                    c->arg)
		        : reply_err(c, API_PRECONDITION,
		                    "customer '%.64s' is at ETag %s", c->arg,
		                    tag);
		json_decref(cur);
		return rc;
	}
	json_decref(cur);
	int rc = customer_write(c, &in, c->arg, false);
	if (c->status == 200 && store_commit(c->st))
		rc = reply_err(c, API_INTERNAL, "%s",
		               sqlite3_errmsg(store_db(c->st)));
	store_rollback(c->st); /* after a refusal; no-op after the commit */
	json_decref(b);
	return rc;
}

/* ---- plans ----------------------------------------------------------------
 */

int h_plans_get(struct call *c)
{
	struct api_err e = {0};
	json_t *j = billing_plans_get(c->st, &e);
	if (j)
		etag_of(j, c->etag, sizeof(c->etag));
	return j ? reply_json(c, 200, j) : reply_apierr(c, &e);
}

/*
 * A PUT guarded by If-Match: in one write transaction, read the current
 * document, compare its ETag (tag) and only then write, so two panels
 * holding the same ETag cannot both win. true written and committed;
 * false answered (412, the writer's refusal, a store failure).
 */
struct guarded_put {
	const char *what; /* "the plans are", for the 412 */
	json_t *(*read)(struct call *c, struct api_err *e);
	void (*tag)(const json_t *doc, char *tag, size_t len);
	int (*write)(struct call *c, json_t *body, struct api_err *e);
};

static bool guarded_put(struct call *c, json_t *body,
                        const struct guarded_put *g)
{
	struct api_err e = {0};
	char tag[40];
	if (store_begin(c->st)) {
		reply_err(c, API_INTERNAL, "%s",
		          sqlite3_errmsg(store_db(c->st)));
		return false;
	}
	json_t *cur = g->read(c, &e);
	if (cur)
		g->tag(cur, tag, sizeof(tag));
	json_decref(cur);
	int rc = !cur ? -1 : !if_match_tag(c, tag) ? 1 : g->write(c, body, &e);
	if (!rc && !store_commit(c->st))
		return true;
	store_rollback(c->st);
	if (rc == 1)
		reply_err(c, API_PRECONDITION, "%s at ETag %s", g->what, tag);
	else if (!rc)
		reply_err(c, API_INTERNAL, "%s",
		          sqlite3_errmsg(store_db(c->st)));
	else
		reply_apierr(c, &e);
	return false;
}

static json_t *plans_read(struct call *c, struct api_err *e)
{
	return billing_plans_get(c->st, e);
}

static int plans_write(struct call *c, json_t *body, struct api_err *e)
{
	return billing_plans_put(c->st, body, e);
}

int h_plans_put(struct call *c)
{
	static const struct guarded_put g = {"the plans are", plans_read,
	                                     etag_of, plans_write};
	if (need_admin(c))
		return ROUTE_DONE;
	json_t *b = body_object(c, false);
	if (!b)
		return ROUTE_DONE;
	bool done = guarded_put(c, b, &g);
	json_decref(b);
	return done ? h_plans_get(c) : ROUTE_DONE;
}

/* ---- quota and usage ------------------------------------------------------
 */

/* The quota's ETag covers its limits only: usage and in_force move with
 * every METER, and a client's If-Match must not fail because of them. */
static void quota_etag(const json_t *doc, char *tag, size_t len)
{
	etag_of(json_object_get(doc, "limits"), tag, len);
}

int h_quota_get(struct call *c)
{
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0))
		return ROUTE_DONE;
	struct api_err e = {0};
	json_t *j = quota_get(c->st, c->arg, &e);
	if (j)
		quota_etag(j, c->etag, sizeof(c->etag));
	tenant_quota_view(c, id, j);
	return j ? reply_json(c, 200, j) : reply_apierr(c, &e);
}

static json_t *quota_read(struct call *c, struct api_err *e)
{
	return quota_get(c->st, c->arg, e);
}

static int quota_write(struct call *c, json_t *body, struct api_err *e)
{
	return quota_put(c->st, c->arg, body, e);
}

int h_quota_put(struct call *c)
{
	static const struct guarded_put g = {"the quota is", quota_read,
	                                     quota_etag, quota_write};
	if (c->job) /* evaluated: in_force shows what the new limits did */
		return h_quota_get(c);
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0) || need_admin(c))
		return ROUTE_DONE;
	json_t *b = body_object(c, false);
	if (!b)
		return ROUTE_DONE;
	bool done = guarded_put(c, b, &g);
	json_decref(b);
	if (!done)
		return ROUTE_DONE;
	/* Have the main loop evaluate the quotas now, as after a METER
	 * batch, so the answer (and every GET after it) shows what is in
	 * force; it answers without the link, within the main loop's turn. */
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return h_quota_get(c);
	j->kind = JOB_QUOTA_EVAL;
	snprintf(j->name, sizeof(j->name), "%.31s", c->arg);
	j->wait_ns = c->api->cfg->api_cmd_wait_ms * NS_PER_MS;
	return call_submit(c, j);
}

/* Buckets in one answer at most (as billing.c's usage_query): a week of
 * minutes, a year of hours; more is refused rather than built. */
#define USAGE_MAX_BUCKETS 10000

int h_usage_get(struct call *c)
{
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0))
		return ROUTE_DONE;
	const char *from = param(c, "from"), *to = param(c, "to");
	const char *step = param(c, "step");
	int64_t f, t, s;
	if (!from || parse_rfc3339(from, &f))
		return reply_err(c, API_BAD_PARAMETER,
		                 "from must be an RFC 3339 date-time "
		                 "(2026-11-01T00:00:00Z), got '%.40s'",
		                 from ? from : "(none)");
	if (!to || parse_rfc3339(to, &t))
		return reply_err(
		    c, API_BAD_PARAMETER,
		    "to must be an RFC 3339 date-time, got '%.40s'",
		    to ? to : "(none)");
	if (!step || !strcmp(step, "1h"))
		s = 3600;
	else if (!strcmp(step, "1m"))
		s = 60;
	else if (!strcmp(step, "1d"))
		s = 86400;
	else
		return reply_err(c, API_BAD_PARAMETER,
		                 "step must be 1m, 1h or 1d, got '%.16s'",
		                 step);
	if (t <= f)
		return reply_err(c, API_BAD_PARAMETER, "to must be after from");
	if ((t - f) / s > USAGE_MAX_BUCKETS)
		return reply_err(c, API_BAD_PARAMETER,
		                 "more than %d buckets: use a larger step or a "
		                 "shorter range",
		                 USAGE_MAX_BUCKETS);
	/* A tenant sees the domain's usage from when it became theirs, not
	 * a previous owner's (ownership.h). */
	int64_t since = INT64_MIN;
	if (!c->who.admin &&
	    owner_since(store_db(c->st), id, c->who.customer, &since) != 1)
		return reply_err(c, API_NOT_FOUND, "no domain '%.64s'", c->arg);
	struct api_err e = {0};
	json_t *j = usage_query_from(c->st, c->arg, f, t, s, since, &e);
	return j ? reply_json(c, 200, j) : reply_apierr(c, &e);
}

/* ---- invoices ---------------------------------------------------------------
 */

/* CSV (1), JSON (0), or neither (-1) from the Accept header: the
 * highest q wins (q=0: not acceptable), JSON on a tie. */
static int want_csv(struct call *c)
{
	static const char *const offers[] = {"application/json", "text/csv",
	                                     NULL};
	return accept_pick(c, offers);
}

int h_invoices_get(struct call *c)
{
	const char *month = param(c, "month");
	const char *cust = param(c, "customer");
	if (!month || parse_month(month))
		return reply_err(
		    c, API_BAD_PARAMETER,
		    "month must be YYYY-MM (1970-01..9999-12), got "
		    "'%.16s'",
		    month ? month : "(none)");
	const char *v;
	size_t vlen;
	/* "customer=" and a bare "customer" (no value: NULL) are not
	 * "every customer": a panel that lost its variable gets a 400. */
	if (!cust &&
	    MHD_lookup_connection_value_n(c->conn, MHD_GET_ARGUMENT_KIND,
	                                  "customer", 8, &v, &vlen) == MHD_YES)
		cust = "";
	if (cust && !*cust)
		return reply_err(c, API_BAD_PARAMETER,
		                 "customer must be a customer id, got an empty "
		                 "value (leave it out for every customer)");
	if (cust && !ident_valid(cust, API_CUSTOMER_MAX))
		return reply_err(c, API_NOT_FOUND, "no customer '%.64s'", cust);
	if (!c->who.admin) {
		if (cust && strcmp(cust, c->who.customer))
			return reply_err(c, API_NOT_FOUND,
			                 "no customer '%.64s'", cust);
		cust = c->who.customer;
	}
	int csv = want_csv(c);
	if (csv < 0)
		return reply_err(c, API_NOT_ACCEPTABLE,
		                 "invoices are application/json or text/csv");
	char *doc = NULL;
	size_t len = 0;
	struct api_err e = {0};
	if (billing_invoice(c->st, month, cust, csv == 1, &doc, &len, &e))
		return reply_apierr(c, &e);
	return reply_text(c, 200,
	                  csv ? "text/csv; charset=utf-8" : "application/json",
	                  doc, len);
}
