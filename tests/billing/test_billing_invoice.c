/*
 * Monthly invoices, as a customer and an auditor would check them: a month
 * of synthetic metering for four domains over two hypervisor boots goes
 * through store_meter() (so deltas are made the real way) and the
 * rollups; the invoice's quantities must equal the counters' increments
 * whose interval ends in the month, its amounts an independent computation
 * from those quantities and the plan, and a closed month's document must
 * never change again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "billingd/billing.h"
#include "helpers.h"

typedef unsigned __int128 u128;

enum { NDOM = 4, NMET = 5 };
static const char *const dom_name[NDOM] = {"alpha", "beta", "gamma", "delta"};
static const char *const dom_cust[NDOM] = {"acme", "acme", "bravo", NULL};
static const uint64_t dom_pages[NDOM] = {262144, 131072, 1048576, 4096};
static const char *const met_name[NMET] = {"cpu", "memory", "disk_read",
                                           "disk_write", "io_ops"};

/* The plans the test bills with (micro-units), as PUT /plans takes them. */
static const char *const plans_json =
    "{\"plans\":[{\"name\":\"default\",\"currency\":\"EUR\","
    "\"base_micro\":2000000,\"prices_micro\":{\"cpu_hour\":12000,"
    "\"memory_gib_month\":1800000,\"read_gib\":5000,\"write_gib\":10000,"
    "\"io_mops\":40000},\"included\":{\"cpu_hours\":10,"
    "\"memory_gib_months\":1,\"read_gib\":10,\"write_gib\":10,"
    "\"io_mops\":1}},{\"name\":\"pro\",\"currency\":\"EUR\","
    "\"base_micro\":10000000,\"prices_micro\":{\"cpu_hour\":9000,"
    "\"memory_gib_month\":1500000,\"read_gib\":4000,\"write_gib\":8000,"
    "\"io_mops\":30000},\"included\":{\"cpu_hours\":100,"
    "\"memory_gib_months\":4,\"read_gib\":100,\"write_gib\":100,"
    "\"io_mops\":10}}]}";
/* per plan: base, 5 prices, 5 included (billing units) */
static const int64_t plan_default[11] = {
    2000000, 12000, 1800000, 5000, 10000, 40000, 10, 1, 10, 10, 1};
static const int64_t plan_pro[11] = {10000000, 9000, 1500000, 4000, 8000, 30000,
                                     100,      4,    100,     100,  10};

struct world {
	struct tb t;
	int64_t sep, oct; /* 2026-09 */
	u128 q[NDOM][NMET];
	uint64_t hours[NDOM][12]; /* bit h: a delta ended in hour h */
	uint64_t rng;
};

static struct world W;

static uint64_t rnd(void)
{
	W.rng ^= W.rng << 13;
	W.rng ^= W.rng >> 7;
	W.rng ^= W.rng << 17;
	return W.rng;
}

struct gen {
	int dom;
	uint16_t domid;
	struct usage_counters c;
};

/* Advance the generators by one interval of dt_s ending at mono_s, record
 * what the test expects, and send the METER. */
static void step(int64_t boot, int64_t wall0_s, uint64_t mono_s, uint64_t dt_s,
                 struct gen *g, unsigned n)
{
	uint16_t ids[NDOM];
	struct usage_counters c[NDOM];
	int64_t end_s = wall0_s + (int64_t)mono_s;
	bool in = end_s >= W.sep && end_s < W.oct;
	for (unsigned i = 0; i < n; i++) {
		int d = g[i].dom;
		uint64_t inc[NMET];
		inc[0] = rnd() % (dt_s * 1000000000ull);
		inc[1] = dom_pages[d] * dt_s * 1000000000ull;
		inc[2] = rnd() % (1ull << 31);
		inc[3] = rnd() % (1ull << 30);
		uint64_t rops = rnd() % 50000, wops = rnd() % 50000;
		inc[4] = rops + wops;
		g[i].c.cpu_ns += inc[0];
		g[i].c.mem_page_ns += inc[1]; /* wraps, like the hypervisor's */
		g[i].c.mem_pages = dom_pages[d];
		g[i].c.blk_read_bytes += inc[2];
		g[i].c.blk_write_bytes += inc[3];
		g[i].c.blk_read_ops += rops;
		g[i].c.blk_write_ops += wops;
		g[i].c.ready_ns += rnd() % 1000;
		if (in) {
			for (int m = 0; m < NMET; m++)
				W.q[d][m] += inc[m];
			int64_t h = (end_s - W.sep) / 3600;
			W.hours[d][h / 64] |= 1ull << (h % 64);
		}
		ids[i] = g[i].domid;
		c[i] = g[i].c;
	}
	tb_meter(&W.t, boot, mono_s * 1000000000ull, n, ids, c);
}

static void customers(struct tb *t)
{
	tb_sql(t, "INSERT INTO customers(id,name,created_unix_ns,"
	          "updated_unix_ns) VALUES('acme','Acme',0,0),"
	          "('bravo','Bravo',0,0),('charlie','Charlie',0,0);"
	          "UPDATE customers SET plan='pro' WHERE id='bravo';"
	          "UPDATE domains SET customer='acme' WHERE name IN "
	          "('alpha','beta');"
	          "UPDATE domains SET customer='bravo' WHERE name='gamma';"
	          "INSERT INTO ownership SELECT id, 0, customer FROM domains "
	          "WHERE customer IS NOT NULL;");
}

/* PUT /domains/{name}/owner, now. */
static void move(const char *domain, const char *customer)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO ownership SELECT id, %lld, '%s' FROM domains "
	         "WHERE name='%s'; UPDATE domains SET customer='%s' WHERE "
	         "name='%s'",
	         (long long)store_wall_ns(), customer, domain, customer,
	         domain);
	tb_sql(&W.t, sql);
}

/* Boot A: 2026-08-31 23:00 .. 2026-09-15 12:00, every 10 minutes; beta
 * lives 2026-09-10 12:10 .. 09-12 08:00 and is destroyed. Boot B:
 * 2026-09-15 12:30 .. 2026-10-01 00:30 (past the month's end). */
static int setup(void **state)
{
	(void)state;
	memset(&W, 0, sizeof(W));
	W.rng = 0x9e3779b97f4a7c15ull;
	W.sep = tb_utc(2026, 9, 1, 0, 0, 0);
	W.oct = tb_utc(2026, 10, 1, 0, 0, 0);
	tb_open(&W.t);
	struct api_err e;
	json_t *p = json_loads(plans_json, 0, NULL);
	assert_int_equal(billing_plans_put(W.t.st, p, &e), 0);
	json_decref(p);

	int64_t wa = tb_utc(2026, 8, 31, 23, 0, 0);
	int64_t a = tb_boot(&W.t, 0xA, wa * 1000000000);
	struct gen ga[NDOM] = {
	    {0, 1, {0}}, {2, 3, {0}}, {3, 4, {0}}, {1, 2, {0}}};
	for (int i = 0; i < NDOM; i++)
		tb_name(&W.t, a, ga[i].domid, dom_name[ga[i].dom]);
	int64_t beta_from = tb_utc(2026, 9, 10, 12, 10, 0) - wa;
	int64_t beta_to = tb_utc(2026, 9, 12, 8, 0, 0) - wa;
	for (uint64_t s = 0;
	     s <= (uint64_t)(tb_utc(2026, 9, 15, 12, 0, 0) - wa); s += 600) {
		bool beta = (int64_t)s >= beta_from && (int64_t)s <= beta_to;
		step(a, wa, s, 600, ga, beta ? 4 : 3);
	}
	tb_destroyed(&W.t, a, 1, (uint64_t)beta_to * 1000000000ull + 1, 2,
	             "beta");

	int64_t wb = tb_utc(2026, 9, 15, 12, 30, 0);
	int64_t b = tb_boot(&W.t, 0xB, wb * 1000000000);
	struct gen gb[3] = {{0, 7, {0}}, {2, 8, {0}}, {3, 9, {0}}};
	for (int i = 0; i < 3; i++)
		tb_name(&W.t, b, gb[i].domid, dom_name[gb[i].dom]);
	for (uint64_t s = 0;
	     s <= (uint64_t)(tb_utc(2026, 10, 1, 0, 30, 0) - wb); s += 600)
		step(b, wb, s, 600, gb, 3);
	customers(&W.t);
	tb_rollup(&W.t);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tb_close(&W.t);
	return 0;
}

/* ---- the independent computation ---- */

static u128 unit_size(int m)
{
	switch (m) {
	case 0:
		return (u128)3600000000000ull;
	case 1: /* GiB-month of September (30 days) in page-ns */
		return (u128)262144 * 30 * 86400 * 1000000000ull;
	case 2:
	case 3:
		return (u128)1073741824;
	default:
		return 1000000;
	}
}

/* round(x / y) with halves up, as 2x + y over 2y */
static u128 round_div(u128 x, u128 y)
{
	return (2 * x + y) / (2 * y);
}

static void u128_dec(u128 v, char *out)
{
	char t[48];
	int n = 0;
	do {
		t[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		out[i] = t[n - 1 - i];
	out[n] = 0;
}

static int dom_index(const char *name)
{
	for (int d = 0; d < NDOM; d++)
		if (!strcmp(dom_name[d], name))
			return d;
	fail_msg("unexpected domain %s", name);
	return -1;
}

static int64_t expected_amount(int d, int meter, u128 *billable)
{
	const int64_t *p = d == 2 ? plan_pro : plan_default;
	if (meter < 0) {
		unsigned h = 0;
		for (int i = 0; i < 12; i++)
			h += (unsigned)__builtin_popcountll(W.hours[d][i]);
		*billable = h;
		return (int64_t)round_div((u128)p[0] * h, 720);
	}
	u128 incl = (u128)p[6 + meter] * unit_size(meter);
	u128 q = W.q[d][meter];
	*billable = q > incl ? q - incl : 0;
	return (int64_t)round_div(*billable * (u128)p[1 + meter],
	                          unit_size(meter));
}

static char *invoice(const char *month, const char *cust, bool csv)
{
	char *doc = NULL;
	size_t len = 0;
	struct api_err e = {0};
	int rc = billing_invoice(W.t.st, month, cust, csv, &doc, &len, &e);
	if (rc)
		fail_msg("billing_invoice(%s): %s", month, e.detail);
	assert_int_equal(strlen(doc), len);
	return doc;
}

/* ---- tests ---- */

static void quantities_equal_counter_deltas_and_amounts_match(void **state)
{
	(void)state;
	char *doc = invoice("2026-09", NULL, false);
	json_t *j = json_loads(doc, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	                    "final");
	json_t *custs = json_object_get(j, "customers");
	assert_int_equal(json_array_size(custs), 3); /* acme bravo, none */
	int seen[NDOM][NMET + 1] = {{0}};
	size_t ci;
	json_t *c;
	json_array_foreach(custs, ci, c)
	{
		int64_t total = 0;
		size_t li;
		json_t *l;
		json_array_foreach(json_object_get(c, "lines"), li, l)
		{
			int d = dom_index(
			    json_string_value(json_object_get(l, "domain")));
			const char *mn =
			    json_string_value(json_object_get(l, "meter"));
			int m = -1;
			for (int k = 0; k < NMET; k++)
				if (!strcmp(met_name[k], mn))
					m = k;
			if (m < 0)
				assert_string_equal(mn, "base");
			char want[48];
			u128 bill;
			int64_t amount = expected_amount(d, m, &bill);
			if (m >= 0) {
				u128_dec(W.q[d][m], want);
				assert_string_equal(
				    json_string_value(
				        json_object_get(l, "quantity")),
				    want);
			}
			u128_dec(bill, want);
			assert_string_equal(
			    json_string_value(json_object_get(l, "billable")),
			    want);
			assert_int_equal(json_integer_value(json_object_get(
			                     l, "amount_micro")),
			                 amount);
			seen[d][m + 1]++;
			total += amount;
		}
		assert_int_equal(
		    json_integer_value(json_object_get(c, "total_micro")),
		    total);
		const char *cid =
		    json_string_value(json_object_get(c, "customer"));
		for (size_t k = 0;
		     k < json_array_size(json_object_get(c, "lines")); k++) {
			int d = dom_index(json_string_value(json_object_get(
			    json_array_get(json_object_get(c, "lines"), k),
			    "domain")));
			if (dom_cust[d])
				assert_string_equal(cid, dom_cust[d]);
			else
				assert_null(cid);
		}
	}
	for (int d = 0; d < NDOM; d++)
		for (int m = 0; m <= NMET; m++)
			assert_int_equal(seen[d][m], 1);
	json_decref(j);
	free(doc);
}

static void partial_month_domain_is_prorated_by_metered_hours(void **state)
{
	(void)state;
	u128 hours;
	int64_t beta = expected_amount(1, -1, &hours);
	/* 2026-09-10 12:10 .. 09-12 08:00: hours 12..23, 0..23, 0..8 */
	assert_true(hours == 12 + 24 + 9);
	assert_int_equal(beta, 2000000 * 45 / 720);
	int64_t alpha = expected_amount(0, -1, &hours);
	assert_true(hours == 720);
	assert_int_equal(alpha, 2000000);
	char *doc = invoice("2026-09", "acme", true);
	assert_non_null(strstr(doc, ",beta,base,45,hour,0,45,2000000,month,"));
	free(doc);
}

static void included_amounts_are_subtracted_before_pricing(void **state)
{
	(void)state;
	u128 bill;
	/* delta's 16 MiB for the month is within its 1 included GiB-month:
	 * a line with billable 0 and amount 0 */
	assert_true(W.q[3][1] > 0 && W.q[3][1] < unit_size(1));
	assert_int_equal(expected_amount(3, 1, &bill), 0);
	assert_true(bill == 0);
	char line[160], q[48];
	u128_dec(W.q[3][1], q);
	snprintf(line, sizeof(line), ",delta,memory,%s,page_ns,%s,0,1800000,",
	         q, "679477248000000000000");
	char *csv = invoice("2026-09", NULL, true);
	assert_non_null(strstr(csv, line));
	free(csv);
	/* alpha's CPU exceeds its 10 included CPU-hours */
	assert_true(W.q[0][0] > (u128)10 * 3600000000000ull);
	expected_amount(0, 0, &bill);
	assert_true(bill == W.q[0][0] - (u128)10 * 3600000000000ull);
	char *doc = invoice("2026-09", NULL, false);
	char want[48];
	u128_dec(bill, want);
	assert_non_null(strstr(doc, want));
	free(doc);
}

/* Split a CSV document into rows of fields (no quoting needed here). */
static size_t csv_rows(char *doc, char *rows[][14], size_t max)
{
	size_t n = 0;
	for (char *line = strtok(doc, "\r\n"); line && n < max;
	     line = strtok(NULL, "\r\n"), n++) {
		char *p = line;
		for (int f = 0; f < 14; f++) {
			rows[n][f] = p;
			p = strchr(p, ',');
			if (p)
				*p++ = 0;
			else
				p = line + strlen(line);
		}
	}
	return n;
}

static void csv_and_json_carry_the_same_lines(void **state)
{
	(void)state;
	char *js = invoice("2026-09", NULL, false),
	     *cs = invoice("2026-09", NULL, true);
	static char *rows[64][14];
	size_t nr = csv_rows(cs, rows, 64);
	json_t *j = json_loads(js, 0, NULL);
	size_t r = 1, ci;
	json_t *c;
	assert_string_equal(rows[0][6], "meter");
	json_array_foreach(json_object_get(j, "customers"), ci, c)
	{
		size_t li;
		json_t *l;
		const char *cid =
		    json_string_value(json_object_get(c, "customer"));
		json_array_foreach(json_object_get(c, "lines"), li, l)
		{
			assert_string_equal(rows[r][2], cid ? cid : "");
			assert_string_equal(
			    rows[r][5],
			    json_string_value(json_object_get(l, "domain")));
			assert_string_equal(
			    rows[r][6],
			    json_string_value(json_object_get(l, "meter")));
			assert_string_equal(
			    rows[r][7],
			    json_string_value(json_object_get(l, "quantity")));
			assert_int_equal(strtoll(rows[r][13], NULL, 10),
			                 json_integer_value(json_object_get(
			                     l, "amount_micro")));
			r++;
		}
		assert_string_equal(rows[r][6], "total");
		assert_int_equal(
		    strtoll(rows[r][13], NULL, 10),
		    json_integer_value(json_object_get(c, "total_micro")));
		r++;
	}
	assert_int_equal(r, nr);
	json_decref(j);
	free(js);
	free(cs);
}

static void
closed_month_is_byte_identical_after_price_change_and_restart(void **state)
{
	(void)state;
	char *j1 = invoice("2026-09", NULL, false);
	char *c1 = invoice("2026-09", "bravo", true);
	char *e1 = invoice("2026-09", "charlie", false); /* no domains */
	/* double every price */
	char *doubled = strdup(plans_json);
	char *p;
	while ((p = strstr(doubled, "12000")))
		memcpy(p, "24000", 5);
	struct api_err e;
	json_t *pl = json_loads(doubled, 0, NULL);
	assert_int_equal(billing_plans_put(W.t.st, pl, &e), 0);
	json_decref(pl);
	free(doubled);
	/* and move a domain to another customer */
	move("alpha", "bravo");
	tb_reopen(&W.t);
	char *j2 = invoice("2026-09", NULL, false);
	char *c2 = invoice("2026-09", "bravo", true);
	char *e2 = invoice("2026-09", "charlie", false);
	assert_string_equal(j1, j2);
	assert_string_equal(c1, c2);
	assert_string_equal(e1, e2);
	assert_non_null(strstr(e1, "\"charlie\""));
	assert_int_equal(tb_int(&W.t, "SELECT count(*) FROM invoice_months"),
	                 1);
	free(j1);
	free(j2);
	free(c1);
	free(c2);
	free(e1);
	free(e2);
	move("alpha", "acme");
	pl = json_loads(plans_json, 0, NULL);
	assert_int_equal(billing_plans_put(W.t.st, pl, &e), 0);
	json_decref(pl);
}

static void current_month_is_a_preview_never_stored(void **state)
{
	(void)state;
	char month[8];
	time_t now = (time_t)tb_now_s();
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(month, sizeof(month), "%04d-%02d", tm.tm_year + 1900,
	         tm.tm_mon + 1);
	int64_t docs = tb_int(&W.t, "SELECT count(*) FROM invoice_docs");
	char *d = invoice(month, NULL, false);
	assert_non_null(strstr(d, "\"preview\""));
	assert_int_equal(tb_int(&W.t, "SELECT count(*) FROM invoice_docs"),
	                 docs);
	free(d);
}

static void bad_months_and_unknown_customers_are_refused(void **state)
{
	(void)state;
	const char *bad[] = {"2026-13", "2026-00",    "2026-1",
	                     "26-09",   "2026/09",    "",
	                     "1969-12", "2026-09-01", "9999-12"};
	int64_t docs = tb_int(&W.t, "SELECT count(*) FROM invoice_docs");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *doc = (char *)1;
		size_t len = 7;
		struct api_err e = {0};
		assert_int_equal(billing_invoice(W.t.st, bad[i], NULL, false,
		                                 &doc, &len, &e),
		                 -1);
		assert_int_equal(e.code, API_BAD_PARAMETER);
		assert_null(doc);
	}
	char *doc;
	size_t len;
	struct api_err e = {0};
	assert_int_equal(
	    billing_invoice(W.t.st, "2026-09", "nobody", false, &doc, &len, &e),
	    -1);
	assert_int_equal(e.code, API_NOT_FOUND);
	assert_int_equal(tb_int(&W.t, "SELECT count(*) FROM invoice_docs"),
	                 docs);
}

/* A month whose data may still arrive is not frozen: a live domain's
 * series has no sample past the month's end yet, deltas wait for the
 * rollups, or a domain vanished without a DESTROYED event less than an
 * hour of metering ago. */
static void incomplete_month_stays_a_preview_until_data_is_in(void **state)
{
	(void)state;
	struct tb t;
	tb_open(&t);
	struct api_err e;
	json_t *pl = json_loads(plans_json, 0, NULL);
	assert_int_equal(billing_plans_put(t.st, pl, &e), 0);
	json_decref(pl);
	int64_t w0 = tb_utc(2026, 9, 30, 23, 0, 0);
	int64_t oct15 = tb_utc(2026, 10, 15, 0, 0, 0); /* freezes September */
	int64_t b = tb_boot(&t, 0xC, w0 * 1000000000);
	tb_name(&t, b, 1, "solo");
	tb_name(&t, b, 2, "ghost");
	uint16_t id = 1, gid = 2;
	struct usage_counters c = {.cpu_ns = 5000000000ull};
	tb_meter(&t, b, 1800ull * 1000000000, 1, &id, &c);
	struct usage_counters g = {.cpu_ns = 1000000000ull};
	tb_meter(&t, b, 600ull * 1000000000, 1, &gid, &g);
	tb_rollup(&t);
	char *doc;
	size_t len;
	assert_int_equal(
	    billing_invoice(t.st, "2026-09", NULL, false, &doc, &len, &e), 0);
	assert_non_null(strstr(doc, "\"preview\""));
	free(doc);
	/* the month's last sample and one past the end arrive, not rolled
	 * up yet */
	c.cpu_ns = 9000000000ull;
	tb_meter(&t, b, 3540ull * 1000000000, 1, &id, &c);
	c.cpu_ns = 12000000000ull;
	tb_meter(&t, b, 3700ull * 1000000000, 1, &id, &c);
	assert_int_equal(
	    billing_invoice(t.st, "2026-09", NULL, false, &doc, &len, &e), 0);
	assert_non_null(strstr(doc, "\"preview\""));
	free(doc);
	assert_int_equal(tb_int(&t, "SELECT count(*) FROM invoice_months"), 0);
	tb_rollup(&t);
	/* ghost has been silent only 51 minutes of metering */
	assert_int_equal(billing_freeze_due(t.st, oct15 * 1000000000, NULL, 0),
	                 0);
	assert_int_equal(tb_int(&t, "SELECT count(*) FROM invoice_months"), 0);
	c.cpu_ns = 13000000000ull;
	tb_meter(&t, b, 7201ull * 1000000000, 1, &id, &c);
	tb_rollup(&t);
	assert_int_equal(billing_freeze_due(t.st, oct15 * 1000000000, NULL, 0),
	                 0);
	assert_int_equal(tb_int(&t, "SELECT count(*) FROM invoice_months"), 1);
	assert_int_equal(
	    billing_invoice(t.st, "2026-09", NULL, false, &doc, &len, &e), 0);
	assert_non_null(strstr(doc, "\"final\""));
	assert_non_null(strstr(doc, "\"quantity\": \"9000000000\""));
	assert_non_null(strstr(doc, "\"quantity\": \"1000000000\""));
	free(doc);
	tb_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(quantities_equal_counter_deltas_and_amounts_match),
	    cmocka_unit_test(partial_month_domain_is_prorated_by_metered_hours),
	    cmocka_unit_test(included_amounts_are_subtracted_before_pricing),
	    cmocka_unit_test(csv_and_json_carry_the_same_lines),
	    cmocka_unit_test(
	        closed_month_is_byte_identical_after_price_change_and_restart),
	    cmocka_unit_test(current_month_is_a_preview_never_stored),
	    cmocka_unit_test(bad_months_and_unknown_customers_are_refused),
	    cmocka_unit_test(incomplete_month_stays_a_preview_until_data_is_in),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
