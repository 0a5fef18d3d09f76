/*
 * Invoice documents (docs/billing.md section 4): JSON with sorted keys, or
 * RFC 4180 CSV, both from the same lines in the same order, so they agree
 * and a frozen month renders identically every time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "billing_invoice.h"

const char *const meter_name[1 + M_N] = {"base",      "cpu",        "memory",
                                         "disk_read", "disk_write", "io_ops"};
const char *const meter_unit[1 + M_N] = {"hour",  "ns",    "page_ns",
                                         "bytes", "bytes", "ops"};
const char *const meter_price_unit[1 + M_N] = {
    "month", "cpu_hour", "gib_month", "gib", "gib", "million_ops"};

/* ---- documents ---- */

struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void buf_add(struct buf *b, const char *s)
{
	size_t k = strlen(s);
	if (b->oom)
		return;
	if (b->n + k + 1 > b->cap) {
		size_t nc = (b->n + k + 1) * 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, k + 1);
	b->n += k;
}

/* An RFC 4180 field: quoted when it holds a comma, quote or line break. */
static void csv_field(struct buf *b, const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n")) {
		buf_add(b, "\"");
		for (const char *c = s; *c; c++) {
			char one[3] = {*c, *c == '"' ? '"' : 0, 0};
			buf_add(b, one);
		}
		buf_add(b, "\"");
	} else {
		buf_add(b, s);
	}
	buf_add(b, last ? "\r\n" : ",");
}

static bool same_customer(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The lines of the customer group starting at i (customer filter: only
 * its group) end at the returned index. */
static size_t group_end(const struct invoice *inv, size_t i)
{
	size_t j = i;
	while (j < inv->n &&
	       same_customer(inv->v[j].customer, inv->v[i].customer))
		j++;
	return j;
}

static int group_total(const struct invoice *inv, size_t i, size_t j,
                       int64_t *total)
{
	*total = 0;
	for (; i < j; i++)
		if (__builtin_add_overflow(*total, inv->v[i].amount, total))
			return -1;
	return 0;
}

static json_t *line_json(const struct inv_line *l)
{
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I}", "domain",
	    l->domain, "meter", meter_name[l->meter], "quantity", l->qty,
	    "unit", meter_unit[l->meter], "included", l->incl, "billable",
	    l->billable, "unit_price_micro", (json_int_t)l->price, "price_unit",
	    meter_price_unit[l->meter], "amount_micro", (json_int_t)l->amount);
}

static int render_json(const struct invoice *inv, const char *customer,
                       const struct empty_cust *empty, struct buf *b)
{
	json_t *custs = json_array();
	for (size_t i = 0; i < inv->n;) {
		size_t j = group_end(inv, i);
		int64_t total;
		if (customer && !same_customer(inv->v[i].customer, customer)) {
			i = j;
			continue;
		}
		json_t *lines = json_array();
		for (size_t k = i; k < j; k++)
			json_array_append_new(lines, line_json(&inv->v[k]));
		if (group_total(inv, i, j, &total)) {
			json_decref(lines);
			json_decref(custs);
			return -1;
		}
		json_array_append_new(
		    custs, json_pack("{s:o, s:s, s:s, s:o, s:I}", "customer",
		                     inv->v[i].customer
		                         ? json_string(inv->v[i].customer)
		                         : json_null(),
		                     "plan", inv->v[i].plan, "currency",
		                     inv->v[i].currency, "lines", lines,
		                     "total_micro", (json_int_t)total));
		i = j;
	}
	if (empty)
		json_array_append_new(
		    custs, json_pack("{s:s, s:s, s:s, s:[], s:I}", "customer",
		                     empty->id, "plan", empty->plan->name,
		                     "currency", empty->plan->currency, "lines",
		                     "total_micro", (json_int_t)0));
	json_t *doc =
	    json_pack("{s:s, s:s, s:o}", "month", inv->month, "status",
	              inv->final ? "final" : "preview", "customers", custs);
	char *s = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(doc);
	if (!s)
		return -1;
	buf_add(b, s);
	buf_add(b, "\n");
	free(s);
	return 0;
}

static void csv_row(struct buf *b, const struct invoice *inv, const char *cust,
                    const char *plan, const char *currency,
                    const struct inv_line *l, int64_t total)
{
	char price[24], amount[24];
	csv_field(b, inv->month, false);
	csv_field(b, inv->final ? "final" : "preview", false);
	csv_field(b, cust ? cust : "", false);
	csv_field(b, plan, false);
	csv_field(b, currency, false);
	csv_field(b, l ? l->domain : "", false);
	csv_field(b, l ? meter_name[l->meter] : "total", false);
	csv_field(b, l ? l->qty : "", false);
	csv_field(b, l ? meter_unit[l->meter] : "", false);
	csv_field(b, l ? l->incl : "", false);
	csv_field(b, l ? l->billable : "", false);
	snprintf(price, sizeof(price), "%lld", l ? (long long)l->price : 0ll);
	csv_field(b, l ? price : "", false);
	csv_field(b, l ? meter_price_unit[l->meter] : "", false);
	snprintf(amount, sizeof(amount), "%lld",
	         (long long)(l ? l->amount : total));
	csv_field(b, amount, true);
}

static int render_csv(const struct invoice *inv, const char *customer,
                      const struct empty_cust *empty, struct buf *b)
{
	buf_add(b, "month,status,customer,plan,currency,domain,meter,"
	           "quantity,unit,included,billable,unit_price_micro,"
	           "price_unit,amount_micro\r\n");
	for (size_t i = 0; i < inv->n;) {
		size_t j = group_end(inv, i);
		const struct inv_line *f = &inv->v[i];
		int64_t total;
		if (customer && !same_customer(f->customer, customer)) {
			i = j;
			continue;
		}
		if (group_total(inv, i, j, &total))
			return -1;
		for (size_t k = i; k < j; k++)
			csv_row(b, inv, f->customer, f->plan, f->currency,
			        &inv->v[k], 0);
		csv_row(b, inv, f->customer, f->plan, f->currency, NULL, total);
		i = j;
	}
	if (empty)
		csv_row(b, inv, empty->id, empty->plan->name,
		        empty->plan->currency, NULL, 0);
	return 0;
}

int invoice_render(const struct invoice *inv, const char *customer,
                   const struct empty_cust *empty, bool csv, char **out,
                   size_t *len)
{
	struct buf b = {0};
	int rc = csv ? render_csv(inv, customer, empty, &b)
	             : render_json(inv, customer, empty, &b);
	if (rc || b.oom) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.n;
	return 0;
}
