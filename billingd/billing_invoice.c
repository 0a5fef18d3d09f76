/*
 * Monthly invoices (docs/billing.md sections 2-5).
 *
 * A month is [first second, first second of the next month) in UTC. A
 * usage delta belongs to the month of its end (the rollups' rule), so a
 * month's usage is exactly the sum of its usage_1h buckets plus the deltas
 * not rolled up yet. Per customer there is one line per domain and meter:
 *
 *   base   monthly fee per domain, prorated: base x H / hours_in_month,
 *          H = hours of the month in which the domain was metered (an
 *          hourly bucket with at least one delta), rounded half up once;
 *   cpu, memory, disk_read, disk_write, io_ops:
 *          quantity in the counters' unit (ns, page-ns, bytes, ops),
 *          minus the plan's included amount (billing units x the unit's
 *          size, not prorated), times the unit price, divided by the
 *          unit's size, rounded half up to the micro-unit once, computed
 *          exactly in 128 bits.
 *
 * Freezing: a month that has ended is "final" once its data is complete
 * (month_complete()); its lines are then computed once into invoice_lines,
 * and each document (per scope and format) is rendered once into
 * invoice_docs and returned byte for byte ever after, whatever happens to
 * plans, customers or billingd. Before that (the current month, or a past
 * one whose data may still arrive) the document is a "preview", computed
 * on each request and never stored. A future month is API_BAD_PARAMETER.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "billing_int.h"
#include "billing_invoice.h"

#define HOURS_MAX 744           /* 31 days */
#define QTY_MAX ((u128)1 << 87) /* x price (< 2^40) stays below 2^127 */

static void invoice_free(struct invoice *inv)
{
	for (size_t i = 0; i < inv->n; i++)
		free(inv->v[i].customer);
	free(inv->v);
	inv->v = NULL;
	inv->n = inv->cap = 0;
}

static struct inv_line *line_add(struct invoice *inv)
{
	if (inv->n == inv->cap) {
		size_t nc = inv->cap ? inv->cap * 2 : 256;
		struct inv_line *nv = realloc(inv->v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		inv->v = nv;
		inv->cap = nc;
	}
	struct inv_line *l = &inv->v[inv->n++];
	memset(l, 0, sizeof(*l));
	return l;
}

/* ---- usage of the month per domain ---- */

struct dom {
	int64_t id;
	char name[WIRE_NAME_FIELD];
	char *customer, *plan;
	struct meter_sum sum;
	uint64_t hours[(HOURS_MAX + 63) / 64]; /* bit h: metered in hour h */
};

struct month_scan {
	struct dom *d;
	size_t n;
	int64_t start_s;
};

static int cmp_dom_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = ((const struct dom *)b)->id;
	return x < y ? -1 : x > y;
}

static int month_cb(void *ctx, int64_t domain, int64_t bucket_s,
                    const struct meter_sum *m)
{
	struct month_scan *s = ctx;
	struct dom *d = bsearch(&domain, s->d, s->n, sizeof(*d), cmp_dom_id);
	if (!d)
		return 0; /* a series whose name is not known (docs) */
	meter_add(&d->sum, m);
	int64_t h = (bucket_s - s->start_s) / 3600;
	if (m->n && h >= 0 && h < HOURS_MAX)
		d->hours[h / 64] |= 1ull << (h % 64);
	return 0;
}

static char *dup_col(sqlite3_stmt *q, int c)
{
	const unsigned char *t = sqlite3_column_text(q, c);
	return t ? strdup((const char *)t) : NULL;
}

static void doms_free(struct dom *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].customer);
		free(d[i].plan);
	}
	free(d);
}

/* Every domain (sorted by id) with its customer and plan, and its usage
 * attributed to [start_s, end_s). */
static int month_usage(sqlite3 *db, int64_t start_s, int64_t end_s,
                       struct dom **out, size_t *nout)
{
	sqlite3_stmt *q;
	struct month_scan s = {.start_s = start_s};
	size_t cap = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT d.id,d.name,d.customer,c.plan FROM "
	                       "domains d LEFT JOIN customers c ON "
	                       "c.id=d.customer ORDER BY d.id",
	                       -1, &q, NULL))
		return -1;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (s.n == cap) {
			cap = cap ? cap * 2 : 256;
			struct dom *nd = realloc(s.d, cap * sizeof(*nd));
			if (!nd) {
				rc = SQLITE_NOMEM;
				break;
			}
			s.d = nd;
		}
		struct dom *d = &s.d[s.n++];
		memset(d, 0, sizeof(*d));
		d->id = sqlite3_column_int64(q, 0);
		snprintf(d->name, sizeof(d->name), "%s",
		         sqlite3_column_text(q, 1));
		d->customer = dup_col(q, 2);
		d->plan = dup_col(q, 3);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE ||
	    usage_scan(db, 0, start_s, end_s, 3600, -1, month_cb, &s)) {
		doms_free(s.d, s.n);
		return -1;
	}
	*out = s.d;
	*nout = s.n;
	return 0;
}

/* ---- lines ---- */

/* Sort order of an invoice: customer (without one last), domain, meter. */
static int cmp_dom_bill(const void *a, const void *b)
{
	const struct dom *x = *(struct dom *const *)a,
	                 *y = *(struct dom *const *)b;
	if (!x->customer != !y->customer)
		return x->customer ? -1 : 1;
	int c = x->customer ? strcmp(x->customer, y->customer) : 0;
	return c ? c : strcmp(x->name, y->name);
}

/* Size of one billing unit of meter m (1..M_N) in the counter's unit. */
static u128 unit_size(int m, int64_t month_s)
{
	switch (m - 1) {
	case M_CPU:
		return (u128)3600 * SEC_NS; /* CPU-hour in ns */
	case M_MEM: /* GiB-month in page-ns: 2^30 / 4096 pages x month */
		return ((u128)1 << 18) * (u128)month_s * SEC_NS;
	case M_READ:
	case M_WRITE:
		return (u128)1 << 30;
	default:
		return 1000000; /* a million operations */
	}
}

static u128 meter_qty(const struct meter_sum *s, int m)
{
	switch (m - 1) {
	case M_CPU:
		return s->cpu_ns;
	case M_MEM:
		return s->mem_page_ns;
	case M_READ:
		return s->read_bytes;
	case M_WRITE:
		return s->write_bytes;
	default:
		return s->read_ops + s->write_ops;
	}
}

static unsigned popcount_hours(const uint64_t *h)
{
	unsigned n = 0;
	for (size_t i = 0; i < (HOURS_MAX + 63) / 64; i++)
		n += (unsigned)__builtin_popcountll(h[i]);
	return n;
}

/* The six lines of domain d on plan p. */
static int dom_lines(struct invoice *inv, const struct dom *d,
                     const struct plan *p, int64_t month_s, struct api_err *e)
{
	for (int m = 0; m <= M_N; m++) {
		struct inv_line *l = line_add(inv);
		if (!l)
			return api_fail(e, API_INTERNAL, "out of memory");
		l->customer = d->customer ? strdup(d->customer) : NULL;
		snprintf(l->plan, sizeof(l->plan), "%s", p->name);
		snprintf(l->currency, sizeof(l->currency), "%s", p->currency);
		snprintf(l->domain, sizeof(l->domain), "%s", d->name);
		l->meter = m;
		u128 qty, incl, bill, amount;
		if (m == 0) { /* the base fee, prorated by metered hours */
			qty = bill = popcount_hours(d->hours);
			incl = 0;
			l->price = p->base_micro;
			amount = div_half_up((u128)p->base_micro * qty,
			                     (u128)(month_s / 3600));
		} else {
			u128 size = unit_size(m, month_s);
			qty = meter_qty(&d->sum, m);
			incl = (u128)p->incl[m - 1] * size;
			bill = qty > incl ? qty - incl : 0;
			l->price = p->price[m - 1];
			if (bill >= QTY_MAX)
				return api_fail(e, API_INTERNAL,
				                "%s: %s quantity too large",
				                d->name, meter_name[m]);
			amount = div_half_up(bill * (u128)l->price, size);
		}
		if (amount > INT64_MAX)
			return api_fail(e, API_INTERNAL,
			                "%s: %s amount too large", d->name,
			                meter_name[m]);
		l->amount = (int64_t)amount;
		u128_str(qty, l->qty);
		u128_str(incl, l->incl);
		u128_str(bill, l->billable);
	}
	return 0;
}

/* Plans by name, loaded once each. */
struct plan_cache {
	struct plan v[64];
	size_t n;
};

static const struct plan *plan_get(sqlite3 *db, struct plan_cache *c,
                                   const char *name)
{
	const char *want = name ? name : "default";
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].name, want))
			return &c->v[i];
	if (c->n == 64 || plan_load(db, want, &c->v[c->n]) != 1)
		return NULL;
	return &c->v[c->n++];
}

/* The invoice lines of [start_s, end_s) for every customer. */
static int invoice_compute(sqlite3 *db, int64_t start_s, int64_t end_s,
                           struct invoice *inv, struct api_err *e)
{
	struct dom *d;
	size_t n;
	if (month_usage(db, start_s, end_s, &d, &n))
		return api_fail(e, API_INTERNAL, "invoice: %s",
		                sqlite3_errmsg(db));
	struct dom **use = malloc((n ? n : 1) * sizeof(*use));
	struct plan_cache *pc = calloc(1, sizeof(*pc));
	size_t nu = 0;
	int rc = -1;
	if (!use || !pc) {
		api_fail(e, API_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (d[i].sum.n)
			use[nu++] = &d[i];
	qsort(use, nu, sizeof(*use), cmp_dom_bill);
	for (size_t i = 0; i < nu; i++) {
		const struct plan *p = plan_get(db, pc, use[i]->plan);
		if (!p) {
			api_fail(e, API_INTERNAL, "plan '%s' not found",
			         use[i]->plan ? use[i]->plan : "default");
			goto out;
		}
		if (dom_lines(inv, use[i], p, end_s - start_s, e))
			goto out;
	}
	rc = 0;
out:
	free(pc);
	free(use);
	doms_free(d, n);
	return rc;
}

/* ---- completeness and freezing ---- */

/*
 * Is every delta that will ever be attributed to a month before end_s
 * stored and rolled up? (docs/billing.md section 4)
 *   1. the month has ended;
 *   2. no delta ending before end_s waits for the rollups;
 *   3. every series of the newest boot has a sample at or after end_s
 *      (later deltas end after it), or its domain was destroyed (a
 *      DESTROYED event is stored), or the boot has been metered for an
 *      hour past end_s without it (a METER lists every domain, and the
 *      link resends in order, so a domain absent that long is gone even
 *      if its DESTROYED event was never stored). Series of older boots
 *      are over: their hypervisor restarted.
 */
static int month_complete(sqlite3 *db, int64_t end_s, int64_t now_s, bool *done)
{
	*done = false;
	if (now_s < end_s)
		return 0;
	int64_t mark = store_stat_get(db, "rollup_delta_id");
	sqlite3_stmt *q;
	if (mark < 0 ||
	    sqlite3_prepare_v2(
	        db,
	        "SELECT (SELECT 1 FROM usage_delta u JOIN boots b ON "
	        "b.id=u.boot WHERE u.id>?1 AND u.end_ns+b.wall_offset_ns<?2 "
	        "LIMIT 1),(SELECT 1 FROM boot_domains bd JOIN boots b ON "
	        "b.id=bd.boot WHERE bd.boot=(SELECT max(id) FROM boots) AND "
	        "bd.last_mono_ns IS NOT NULL AND "
	        "bd.last_mono_ns+b.wall_offset_ns<?2 AND NOT EXISTS(SELECT 1 "
	        "FROM events e WHERE e.boot=bd.boot AND e.domid=bd.domid AND "
	        "e.kind=3) AND (SELECT max(last_mono_ns) FROM boot_domains "
	        "WHERE boot=bd.boot)+b.wall_offset_ns<?2+3600000000000 "
	        "LIMIT 1)",
	        -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, mark);
	sqlite3_bind_int64(q, 2, end_s * SEC_NS);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*done = sqlite3_column_type(q, 0) == SQLITE_NULL &&
		        sqlite3_column_type(q, 1) == SQLITE_NULL;
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int lines_store(sqlite3 *db, const struct invoice *inv)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "INSERT INTO invoice_lines VALUES(?,?,?,?,?,?,?,"
	                       "?,?,?,?,?,?,?)",
	                       -1, &q, NULL))
		return -1;
	int rc = SQLITE_DONE;
	for (size_t i = 0; i < inv->n && rc == SQLITE_DONE; i++) {
		const struct inv_line *l = &inv->v[i];
		sqlite3_bind_text(q, 1, inv->month, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (int64_t)i);
		if (l->customer)
			sqlite3_bind_text(q, 3, l->customer, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 3);
		sqlite3_bind_text(q, 4, l->plan, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, l->currency, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 6, l->domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, meter_name[l->meter], -1,
		                  SQLITE_STATIC);
		sqlite3_bind_text(q, 8, l->qty, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 9, meter_unit[l->meter], -1,
		                  SQLITE_STATIC);
		sqlite3_bind_text(q, 10, l->incl, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 11, l->billable, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 12, l->price);
		sqlite3_bind_text(q, 13, meter_price_unit[l->meter], -1,
		                  SQLITE_STATIC);
		sqlite3_bind_int64(q, 14, l->amount);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	char sql[160];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO invoice_months VALUES('%s',%lld)", inv->month,
	         (long long)store_wall_ns());
	return sqlite3_exec(db, sql, NULL, NULL, NULL) ? -1 : 0;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *q, int c)
{
	snprintf(dst, len, "%s", (const char *)sqlite3_column_text(q, c));
}

static int lines_load(sqlite3 *db, struct invoice *inv)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT customer,plan,currency,domain,meter,"
	                       "quantity,included,billable,unit_price_micro,"
	                       "amount_micro FROM invoice_lines WHERE month=? "
	                       "ORDER BY seq",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, inv->month, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct inv_line *l = line_add(inv);
		if (!l) {
			rc = SQLITE_NOMEM;
			break;
		}
		l->customer = dup_col(q, 0);
		copy_col(l->plan, sizeof(l->plan), q, 1);
		copy_col(l->currency, sizeof(l->currency), q, 2);
		copy_col(l->domain, sizeof(l->domain), q, 3);
		const char *mn = (const char *)sqlite3_column_text(q, 4);
		for (l->meter = 0;
		     l->meter < M_N && strcmp(meter_name[l->meter], mn);
		     l->meter++)
			;
		copy_col(l->qty, sizeof(l->qty), q, 5);
		copy_col(l->incl, sizeof(l->incl), q, 6);
		copy_col(l->billable, sizeof(l->billable), q, 7);
		l->price = sqlite3_column_int64(q, 8);
		l->amount = sqlite3_column_int64(q, 9);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the entry point ---- */

struct req {
	const char *month, *customer;
	bool csv;
	int64_t start_s, end_s, now_s;
	char scope[160];
	struct plan cust_plan; /* the customer's plan, for an empty entry */
};

static int render(const struct req *r, const struct invoice *inv, char **out,
                  size_t *len, struct api_err *e)
{
	struct empty_cust ec = {r->customer, &r->cust_plan}, *empty = NULL;
	if (r->customer) {
		empty = &ec;
		for (size_t i = 0; i < inv->n; i++)
			if (inv->v[i].customer &&
			    !strcmp(inv->v[i].customer, r->customer))
				empty = NULL;
	}
	if (invoice_render(inv, r->customer, empty, r->csv, out, len))
		return api_fail(e, API_INTERNAL, "invoice: cannot render");
	return 0;
}

/* The stored document of (month, scope, format): 1 found, 0 not, -1. */
static int doc_get(sqlite3 *db, const struct req *r, char **out, size_t *len)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT body FROM invoice_docs WHERE month=? "
	                       "AND scope=? AND format=?",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, r->month, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, r->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, r->csv ? "csv" : "json", -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(q, 0);
		*out = malloc(n + 1);
		if (!*out) {
			sqlite3_finalize(q);
			return -1;
		}
		if (n)
			memcpy(*out, sqlite3_column_blob(q, 0), n);
		(*out)[n] = 0;
		*len = n;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int doc_put(sqlite3 *db, const struct req *r, const char *body,
                   size_t len)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "INSERT INTO invoice_docs VALUES(?,?,?,?,?)",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, r->month, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, r->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, r->csv ? "csv" : "json", -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, body, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, store_wall_ns());
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* 1 the month is frozen, 0 not, -1 error. */
static int is_frozen(sqlite3 *db, const char *month)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM invoice_months WHERE month=?",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, month, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The customer exists (and its plan into r->cust_plan)? 1, 0, -1. */
static int customer_plan(sqlite3 *db, struct req *r)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT plan FROM customers WHERE id=?", -1,
	                       &q, NULL))
		return -1;
	sqlite3_bind_text(q, 1, r->customer, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q), found = 0;
	if (rc == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(q, 0);
		found = plan_load(db, p, &r->cust_plan);
		if (found == 0) /* a plan that vanished: bill on default */
			found = plan_load(db, NULL, &r->cust_plan);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : -1;
	return found == 1 ? 1 : -1;
}

/* In the open write transaction: the month's document, frozen (from the
 * stored lines, computing and storing them first if needed) or a preview
 * when the month is not complete. */
static int invoice_in_tx(sqlite3 *db, struct req *r, struct invoice *inv,
                         char **out, size_t *len, struct api_err *e)
{
	int f = is_frozen(db, r->month);
	bool complete = f == 1;
	if (f < 0 || (!f && month_complete(db, r->end_s, r->now_s, &complete)))
		return api_fail(e, API_INTERNAL, "invoice: %s",
		                sqlite3_errmsg(db));
	inv->final = complete;
	if (f == 1) {
		if (lines_load(db, inv))
			return api_fail(e, API_INTERNAL, "invoice: %s",
			                sqlite3_errmsg(db));
	} else {
		if (invoice_compute(db, r->start_s, r->end_s, inv, e))
			return -1;
		if (complete && lines_store(db, inv))
			return api_fail(e, API_INTERNAL, "invoice: %s",
			                sqlite3_errmsg(db));
	}
	if (render(r, inv, out, len, e))
		return -1;
	if (complete && doc_put(db, r, *out, *len)) {
		free(*out);
		*out = NULL;
		return api_fail(e, API_INTERNAL, "invoice: %s",
		                sqlite3_errmsg(db));
	}
	return 0;
}

/* In a read transaction: the stored document (1), or whether producing
 * one needs a write transaction (freezing, or storing a document). */
static int invoice_probe(sqlite3 *db, struct req *r, char **out, size_t *len,
                         bool *need_write, struct api_err *e)
{
	int rc = r->customer ? customer_plan(db, r) : 1;
	*need_write = false;
	if (rc == 0)
		return api_fail(e, API_NOT_FOUND, "no customer '%s'",
		                r->customer);
	if (rc < 0)
		goto sqlerr;
	if (r->now_s < r->end_s)
		return 0; /* the current month: a preview */
	rc = doc_get(db, r, out, len);
	if (rc != 0)
		return rc < 0 ? -1 : 1;
	int f = is_frozen(db, r->month);
	bool complete = f == 1;
	if (f < 0 || (!f && month_complete(db, r->end_s, r->now_s, &complete)))
		goto sqlerr;
	*need_write = complete;
	return 0;
sqlerr:
	return api_fail(e, API_INTERNAL, "invoice: %s", sqlite3_errmsg(db));
}

int billing_invoice(struct store *st, const char *month, const char *customer,
                    bool csv, char **out, size_t *len, struct api_err *e)
{
	sqlite3 *db = store_db(st);
	struct req r = {.month = month, .customer = customer, .csv = csv};
	struct invoice inv = {0};
	bool write;
	*out = NULL;
	*len = 0;
	if (month_parse(month, &r.start_s, &r.end_s))
		return api_fail(e, API_BAD_PARAMETER,
		                "month must be YYYY-MM (1970-01 or later)");
	r.now_s = store_wall_ns() / SEC_NS;
	if (r.start_s > r.now_s)
		return api_fail(e, API_BAD_PARAMETER,
		                "month %s has not started", month);
	snprintf(inv.month, sizeof(inv.month), "%s", month);
	snprintf(r.scope, sizeof(r.scope), "%s%s",
	         customer ? "customer:" : "all", customer ? customer : "");
	/* A read snapshot first: previews and stored documents never take
	 * the write lock the ingest needs; freezing does, once, and then
	 * re-checks everything inside it (two requests cannot freeze
	 * twice). */
	if (tx_begin(db, false))
		return api_fail(e, API_INTERNAL, "invoice: %s",
		                sqlite3_errmsg(db));
	int rc = invoice_probe(db, &r, out, len, &write, e);
	if (rc == 0 && write) {
		tx_rollback(db);
		if (tx_begin(db, true)) {
			api_fail(e, API_INTERNAL, "invoice: %s",
			         sqlite3_errmsg(db));
			return -1;
		}
		rc = doc_get(db, &r, out, len);
		if (rc < 0)
			api_fail(e, API_INTERNAL, "invoice: %s",
			         sqlite3_errmsg(db));
	}
	if (rc == 0)
		rc = invoice_in_tx(db, &r, &inv, out, len, e);
	else if (rc == 1)
		rc = 0;
	invoice_free(&inv);
	if (rc || tx_commit(db)) {
		tx_rollback(db);
		free(*out);
		*out = NULL;
		*len = 0;
		return rc ? -1
		          : api_fail(e, API_INTERNAL, "invoice: %s",
		                     sqlite3_errmsg(db));
	}
	return 0;
}

int billing_freeze_due(struct store *st, int64_t now_unix_ns, char *err,
                       size_t errlen)
{
	sqlite3 *db = store_db(st);
	int64_t start, end;
	char name[8];
	month_of(now_unix_ns / SEC_NS, &start, &end, name);
	month_of(start - 1, &start, &end, name); /* the previous month */
	/* Cheap checks first: called once a minute from the main loop. */
	bool complete = false;
	if (tx_begin(db, false))
		goto sqlerr;
	int f = is_frozen(db, name);
	if (f < 0 ||
	    (!f && month_complete(db, end, now_unix_ns / SEC_NS, &complete))) {
		tx_rollback(db);
		goto sqlerr;
	}
	tx_rollback(db);
	if (f || !complete)
		return 0;
	char *doc;
	size_t len;
	struct api_err e;
	if (billing_invoice(st, name, NULL, false, &doc, &len, &e)) {
		snprintf(err, errlen, "invoice %s: %s", name, e.detail);
		return -1;
	}
	free(doc);
	return 0;
sqlerr:
	snprintf(err, errlen, "invoice %s: %s", name, sqlite3_errmsg(db));
	return -1;
}
