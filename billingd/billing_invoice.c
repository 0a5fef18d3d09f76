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
#include "ownership.h"

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

/* ---- usage of the month per domain and owner ---- */

/* A domain's usage under one owner (docs/billing.md section 6). */
struct share {
	char *customer; /* NULL: nobody */
	struct meter_sum sum;
	uint64_t hours[(HOURS_MAX + 63) / 64]; /* bit h: metered in hour h */
};

/* An ownership change that takes effect at eff_s, to shares[sh]. */
struct change {
	int64_t eff_s;
	size_t sh;
};

struct dom {
	int64_t id;
	char name[WIRE_NAME_FIELD];
	struct share *sh; /* distinct owners within the month */
	size_t nsh;
	struct change *chg; /* owner at the month's start, then changes */
	size_t nchg;
};

struct month_scan {
	struct dom *d;
	size_t n;
	int64_t start_s;
	struct dom *one; /* the minute scan of one split domain */
};

static int cmp_dom_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = ((const struct dom *)b)->id;
	return x < y ? -1 : x > y;
}

static void share_add(struct share *s, int64_t start_s, int64_t bucket_s,
                      const struct meter_sum *m)
{
	meter_add(&s->sum, m);
	int64_t h = (bucket_s - start_s) / 3600;
	if (m->n && h >= 0 && h < HOURS_MAX)
		s->hours[h / 64] |= 1ull << (h % 64);
}

/* Hourly buckets of every domain owned by one customer all month. */
static int month_cb(void *ctx, int64_t domain, int64_t bucket_s,
                    const struct meter_sum *m)
{
	struct month_scan *s = ctx;
	struct dom *d = bsearch(&domain, s->d, s->n, sizeof(*d), cmp_dom_id);
	if (!d || d->nchg > 1)
		return 0; /* a series whose name is not known (docs), or a
		           * domain that changed owner: its minute scan */
	share_add(&d->sh[0], s->start_s, bucket_s, m);
	return 0;
}

/* Minute buckets of a domain that changed owner within the month: each
 * to the owner in force at the minute's start. */
static int minute_cb(void *ctx, int64_t domain, int64_t bucket_s,
                     const struct meter_sum *m)
{
	struct month_scan *s = ctx;
	struct dom *d = s->one;
	(void)domain;
	size_t k = 0;
	while (k + 1 < d->nchg && d->chg[k + 1].eff_s <= bucket_s)
		k++;
	share_add(&d->sh[d->chg[k].sh], s->start_s, bucket_s, m);
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
		for (size_t k = 0; k < d[i].nsh; k++)
			free(d[i].sh[k].customer);
		free(d[i].sh);
		free(d[i].chg);
	}
	free(d);
}

static bool same_cust(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The owner cust (taken) from eff_s on: a change, and a share if cust
 * has none yet. 0 or -1 (out of memory). */
static int dom_owner(struct dom *d, int64_t eff_s, char *cust)
{
	size_t k = 0;
	while (k < d->nsh && !same_cust(d->sh[k].customer, cust))
		k++;
	if (k == d->nsh) {
		struct share *ns = realloc(d->sh, (k + 1) * sizeof(*ns));
		if (!ns)
			goto oom;
		d->sh = ns;
		memset(&ns[k], 0, sizeof(ns[k]));
		ns[k].customer = cust;
		d->nsh++;
	} else {
		free(cust);
	}
	if (d->nchg && d->chg[d->nchg - 1].eff_s == eff_s) {
		d->chg[d->nchg - 1].sh = k; /* the later change wins */
		return 0;
	}
	struct change *nc = realloc(d->chg, (d->nchg + 1) * sizeof(*nc));
	if (!nc)
		return -1;
	d->chg = nc;
	nc[d->nchg++] = (struct change){eff_s, k};
	return 0;
oom:
	free(cust);
	return -1;
}

/* The owners of every domain over [start_s, end_s), from the ownership
 * rows (sorted by domain, then time). A domain without rows has had
 * nobody as owner. */
static int month_owners(sqlite3 *db, struct dom *d, size_t n, int64_t start_s,
                        int64_t end_s)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT domain, since_ns, customer FROM "
	                       "ownership ORDER BY domain, since_ns",
	                       -1, &q, NULL))
		return -1;
	int rc;
	struct dom *cur = NULL;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);
		int64_t eff = owner_effective_s(sqlite3_column_int64(q, 1));
		if (!cur || cur->id != id)
			cur = bsearch(&id, d, n, sizeof(*d), cmp_dom_id);
		if (!cur || eff >= end_s)
			continue;
		/* rows up to the month's start replace the owner at it */
		if (eff <= start_s && cur->nchg == 1)
			cur->nchg = 0;
		if (eff > start_s && !cur->nchg &&
		    dom_owner(cur, start_s, NULL)) {
			rc = SQLITE_NOMEM;
			break;
		}
		char *cust = dup_col(q, 2);
		if ((sqlite3_column_type(q, 2) != SQLITE_NULL && !cust) ||
		    dom_owner(cur, eff > start_s ? eff : start_s, cust)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!d[i].nchg && dom_owner(&d[i], start_s, NULL))
			return -1;
	return 0;
}

/* Every domain (sorted by id) with its owners and their usage attributed
 * to [start_s, end_s). */
static int month_usage(sqlite3 *db, int64_t start_s, int64_t end_s,
                       struct dom **out, size_t *nout)
{
	sqlite3_stmt *q;
	struct month_scan s = {.start_s = start_s};
	size_t cap = 0;
	if (sqlite3_prepare_v2(db, "SELECT id,name FROM domains ORDER BY id",
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
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE || month_owners(db, s.d, s.n, start_s, end_s) ||
	    usage_scan(db, 0, start_s, end_s, 3600, -1, month_cb, &s))
		goto fail;
	for (size_t i = 0; i < s.n; i++) {
		if (s.d[i].nchg < 2)
			continue;
		s.one = &s.d[i];
		if (usage_scan(db, s.d[i].id, start_s, end_s, 60, -1, minute_cb,
		               &s))
			goto fail;
	}
	*out = s.d;
	*nout = s.n;
	return 0;
fail:
	doms_free(s.d, s.n);
	return -1;
}

/* ---- lines ---- */

/* One domain's usage under one owner, as billed. */
struct bill {
	const char *name;
	const struct share *sh;
	char *plan; /* the owner's plan, NULL: default */
};

/* Sort order of an invoice: customer (without one last), domain, meter. */
static int cmp_bill(const void *a, const void *b)
{
	const struct bill *x = a, *y = b;
	const char *cx = x->sh->customer, *cy = y->sh->customer;
	if (!cx != !cy)
		return cx ? -1 : 1;
	int c = cx ? strcmp(cx, cy) : 0;
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

/* The six lines of one domain's usage under one owner, on plan p. */
static int dom_lines(struct invoice *inv, const struct bill *d,
                     const struct plan *p, int64_t month_s, struct api_err *e)
{
	for (int m = 0; m <= M_N; m++) {
		struct inv_line *l = line_add(inv);
		if (!l)
			return api_fail(e, API_INTERNAL, "out of memory");
		l->customer = d->sh->customer ? strdup(d->sh->customer) : NULL;
		snprintf(l->plan, sizeof(l->plan), "%s", p->name);
		snprintf(l->currency, sizeof(l->currency), "%s", p->currency);
		snprintf(l->domain, sizeof(l->domain), "%s", d->name);
		l->meter = m;
		u128 qty, incl, bill, amount;
		if (m == 0) { /* the base fee, prorated by metered hours */
			qty = bill = popcount_hours(d->sh->hours);
			incl = 0;
			l->price = p->base_micro;
			amount = div_half_up((u128)p->base_micro * qty,
			                     (u128)(month_s / 3600));
		} else {
			u128 size = unit_size(m, month_s);
			qty = meter_qty(&d->sh->sum, m);
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

/* The owner's plan name into b->plan (NULL: default). 0 or -1. */
static int bill_plan(sqlite3_stmt *q, struct bill *b)
{
	if (!b->sh->customer)
		return 0;
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, b->sh->customer, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL &&
	    !(b->plan = dup_col(q, 0)))
		return -1;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The invoice lines of [start_s, end_s) for every customer. */
static int invoice_compute(sqlite3 *db, int64_t start_s, int64_t end_s,
                           struct invoice *inv, struct api_err *e)
{
	struct dom *d;
	size_t n, nb = 0, cap = 0;
	if (month_usage(db, start_s, end_s, &d, &n))
		return api_fail(e, API_INTERNAL, "invoice: %s",
		                sqlite3_errmsg(db));
	struct bill *bills = NULL;
	struct plan_cache *pc = calloc(1, sizeof(*pc));
	sqlite3_stmt *q = NULL;
	int rc = -1;
	if (!pc) {
		api_fail(e, API_INTERNAL, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT plan FROM customers WHERE id=?", -1,
	                       &q, NULL)) {
		api_fail(e, API_INTERNAL, "invoice: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < d[i].nsh; k++) {
			if (!d[i].sh[k].sum.n)
				continue;
			if (nb == cap) {
				cap = cap ? cap * 2 : 256;
				struct bill *nv =
				    realloc(bills, cap * sizeof(*nv));
				if (!nv) {
					api_fail(e, API_INTERNAL,
					         "out of memory");
					goto out;
				}
				bills = nv;
			}
			bills[nb] = (struct bill){d[i].name, &d[i].sh[k], NULL};
			if (bill_plan(q, &bills[nb++])) {
				api_fail(e, API_INTERNAL, "invoice: %s",
				         sqlite3_errmsg(db));
				goto out;
			}
		}
	if (nb)
		qsort(bills, nb, sizeof(*bills), cmp_bill);
	for (size_t i = 0; i < nb; i++) {
		const struct plan *p = plan_get(db, pc, bills[i].plan);
		if (!p) {
			api_fail(e, API_INTERNAL, "plan '%s' not found",
			         bills[i].plan ? bills[i].plan : "default");
			goto out;
		}
		if (dom_lines(inv, &bills[i], p, end_s - start_s, e))
			goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(q);
	for (size_t i = 0; i < nb; i++)
		free(bills[i].plan);
	free(bills);
	free(pc);
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

/* The wall-clock second of the first boot's start: 1, 0 (never booted),
 * -1. */
static int first_metered_s(sqlite3 *db, int64_t *s)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT min(wall_offset_ns) FROM boots", -1,
	                       &q, NULL))
		return -1;
	int rc = sqlite3_step(q), found = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*s = sqlite3_column_int64(q, 0) / SEC_NS;
		found = 1;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? found : -1;
}

int billing_invoice(struct store *st, const char *month, const char *customer,
                    bool csv, char **out, size_t *len, struct api_err *e)
{
	sqlite3 *db = store_db(st);
	struct req r = {.month = month, .customer = customer, .csv = csv};
	struct invoice inv = {0};
	bool write;
	int rc;
	*out = NULL;
	*len = 0;
	if (month_parse(month, &r.start_s, &r.end_s))
		return api_fail(e, API_BAD_PARAMETER,
		                "month must be YYYY-MM (1970-01 or later)");
	r.now_s = store_wall_ns() / SEC_NS;
	if (r.start_s > r.now_s)
		return api_fail(e, API_BAD_PARAMETER,
		                "month %s has not started", month);
	/* A past month that ended before anything was metered has no
	 * invoice: answering would freeze (and store) an empty one. */
	int64_t first_s;
	rc = first_metered_s(db, &first_s);
	if (rc < 0)
		return api_fail(e, API_INTERNAL, "invoice: %s",
		                sqlite3_errmsg(db));
	if (r.end_s <= r.now_s && (rc == 0 || r.end_s <= first_s)) {
		char t[32];
		if (rc)
			rfc3339(first_s, t);
		return api_fail(e, API_NOT_FOUND,
		                "no invoice for %s: metering %s%s", month,
		                rc ? "began " : "has not begun", rc ? t : "");
	}
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
	rc = invoice_probe(db, &r, out, len, &write, e);
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
	int64_t first_s = 0;
	int m = f || !complete ? 1 : first_metered_s(db, &first_s);
	tx_rollback(db);
	if (m < 0)
		goto sqlerr;
	if (f || !complete || m == 0 || end <= first_s)
		return 0; /* nothing to freeze: not metered then */
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
