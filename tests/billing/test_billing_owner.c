/*
 * A domain that changes hands mid-month, as both customers and an auditor
 * would check it (docs/billing.md section 11): each owner is billed
 * exactly the counters' increments whose interval ends while the domain
 * was theirs (a change counts from the next whole minute), the base fee
 * by the hours metered for each, nothing while it had no owner; and the
 * new owner's usage view starts when the domain became theirs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "billingd/billing.h"
#include "billingd/ownership.h"
#include "helpers.h"

#define MINUTES 600 /* 2026-09-01 00:00 .. 10:00, a METER a minute */
#define NOBODY 2

/* 1 micro-unit per CPU-ms and 10000 per metered hour, nothing included */
static const char *const plans_json =
    "{\"plans\":[{\"name\":\"default\",\"currency\":\"EUR\","
    "\"base_micro\":7200000,\"prices_micro\":{\"cpu_hour\":3600000,"
    "\"memory_gib_month\":0,\"read_gib\":0,\"write_gib\":0,"
    "\"io_mops\":0},\"included\":{\"cpu_hours\":0,"
    "\"memory_gib_months\":0,\"read_gib\":0,\"write_gib\":0,"
    "\"io_mops\":0}}]}";

static struct tb T;
static int64_t t0, dom_id;
static uint64_t cpu_inc[MINUTES + 1];

/* The changes, at wall times that are not whole minutes but the third:
 * acme from the start, bravo at 05:30:20 (counts from 05:31), nobody at
 * 07:00:00 (from 07:00), acme again at 08:15:59.5 (from 08:16). */
static const struct {
	int64_t at_ms; /* since t0 */
	const char *cust;
	int64_t from_s; /* effective, since t0 */
} moves[] = {
    {(5 * 3600 + 30 * 60 + 20) * 1000, "bravo", 5 * 3600 + 31 * 60},
    {7 * 3600 * 1000, NULL, 7 * 3600},
    {(8 * 3600 + 15 * 60 + 59) * 1000 + 500, "acme", 8 * 3600 + 16 * 60},
};

static void set_owner(const char *cust, int64_t at_ns)
{
	struct api_err e = {0};
	bool changed;
	tb_sql(&T, "BEGIN IMMEDIATE");
	assert_int_equal(
	    owner_set(store_db(T.st), dom_id, cust, at_ns, &changed, &e), 0);
	assert_true(changed);
	tb_sql(&T, "COMMIT");
}

static int setup(void **state)
{
	(void)state;
	tb_open(&T);
	t0 = tb_utc(2026, 9, 1, 0, 0, 0);
	struct api_err e;
	json_t *p = json_loads(plans_json, 0, NULL);
	assert_int_equal(billing_plans_put(T.st, p, &e), 0);
	json_decref(p);
	tb_sql(&T, "INSERT INTO customers(id,name,created_unix_ns,"
	           "updated_unix_ns) VALUES('acme','Acme',0,0),"
	           "('bravo','Bravo',0,0)");
	int64_t b = tb_boot(&T, 0x51, t0 * 1000000000);
	tb_name(&T, b, 3, "d");
	dom_id = tb_int(&T, "SELECT id FROM domains WHERE name='d'");
	/* set before the first METER: acme's from the start, whenever */
	set_owner("acme", (t0 + 3 * 3600) * 1000000000);
	uint16_t id = 3;
	struct usage_counters c = {.mem_pages = 16};
	for (int k = 1; k <= MINUTES; k++) {
		cpu_inc[k] =
		    (uint64_t)(k % 5 + 1) * 1000000000ull + (uint64_t)k * 1000;
		c.cpu_ns += cpu_inc[k];
		c.mem_page_ns += 16 * 60000000000ull;
		tb_meter(&T, b, (uint64_t)k * 60000000000ull, 1, &id, &c);
		if (k == 400)
			tb_rollup(&T); /* the last deltas stay raw */
	}
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		set_owner(moves[i].cust,
		          t0 * 1000000000 + moves[i].at_ms * 1000000);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tb_close(&T);
	return 0;
}

/* 0 acme, 1 bravo, NOBODY: who owned the domain at second s since t0 */
static int owner_at(int64_t s)
{
	int o = 0;
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (s >= moves[i].from_s)
			o = !moves[i].cust                    ? NOBODY
			    : !strcmp(moves[i].cust, "bravo") ? 1
			                                      : 0;
	return o;
}

/* The independent computation: CPU ns and metered hours per owner. */
static void expected(uint64_t cpu[3], unsigned hours[3])
{
	uint64_t seen[3][1] = {{0}};
	memset(cpu, 0, 3 * sizeof(*cpu));
	for (int k = 1; k <= MINUTES; k++) {
		int64_t end = (int64_t)k * 60;
		int o = owner_at(end);
		cpu[o] += cpu_inc[k];
		seen[o][0] |= 1ull << (end / 3600);
	}
	for (int o = 0; o < 3; o++)
		hours[o] = (unsigned)__builtin_popcountll(seen[o][0]);
}

static json_t *find_line(json_t *cust, const char *meter)
{
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(cust, "lines"), i, l)
	{
		if (!strcmp(json_string_value(json_object_get(l, "meter")),
		            meter))
			return l;
	}
	fail_msg("no %s line", meter);
	return NULL;
}

static void each_owner_is_billed_its_own_minutes(void **state)
{
	(void)state;
	uint64_t cpu[3];
	unsigned hours[3];
	expected(cpu, hours);
	assert_true(cpu[0] && cpu[1] && cpu[NOBODY]);
	char *doc;
	size_t len;
	struct api_err e = {0};
	assert_int_equal(
	    billing_invoice(T.st, "2026-09", NULL, false, &doc, &len, &e), 0);
	json_t *j = json_loads(doc, 0, NULL);
	assert_non_null(j);
	json_t *custs = json_object_get(j, "customers");
	/* acme, bravo, and no owner: never billed to either */
	assert_int_equal(json_array_size(custs), 3);
	const char *want[3] = {"acme", "bravo", NULL};
	uint64_t sum = 0;
	for (int o = 0; o < 3; o++) {
		json_t *c = json_array_get(custs, (size_t)o);
		json_t *cj = json_object_get(c, "customer");
		if (want[o])
			assert_string_equal(json_string_value(cj), want[o]);
		else
			assert_true(json_is_null(cj));
		json_t *l = find_line(c, "cpu");
		assert_string_equal(
		    json_string_value(json_object_get(l, "domain")), "d");
		char q[32];
		snprintf(q, sizeof(q), "%llu", (unsigned long long)cpu[o]);
		assert_string_equal(
		    json_string_value(json_object_get(l, "quantity")), q);
		/* 1 micro-unit per ms, half up */
		assert_int_equal(
		    json_integer_value(json_object_get(l, "amount_micro")),
		    (cpu[o] + 500000) / 1000000);
		l = find_line(c, "base");
		snprintf(q, sizeof(q), "%u", hours[o]);
		assert_string_equal(
		    json_string_value(json_object_get(l, "quantity")), q);
		assert_int_equal(
		    json_integer_value(json_object_get(l, "amount_micro")),
		    10000 * hours[o]);
		sum += cpu[o];
	}
	uint64_t all = 0;
	for (int k = 1; k <= MINUTES; k++)
		all += cpu_inc[k];
	assert_int_equal(sum, all); /* nothing lost, nothing twice */
	json_decref(j);
	free(doc);
	/* a customer's own invoice carries only its share */
	assert_int_equal(
	    billing_invoice(T.st, "2026-09", "bravo", true, &doc, &len, &e), 0);
	assert_null(strstr(doc, "acme"));
	char q[64];
	snprintf(q, sizeof(q), ",d,cpu,%llu,", (unsigned long long)cpu[1]);
	assert_non_null(strstr(doc, q));
	free(doc);
}

static void history_and_usage_view_start_at_the_change(void **state)
{
	(void)state;
	int64_t since;
	sqlite3 *db = store_db(T.st);
	/* acme has it again since 08:16; bravo does not have it */
	assert_int_equal(owner_since(db, dom_id, "acme", &since), 1);
	assert_int_equal(since, t0 + 8 * 3600 + 16 * 60);
	assert_int_equal(owner_since(db, dom_id, "bravo", &since), 0);
	int64_t tag;
	json_t *h = owner_doc(db, dom_id, "d", true, &tag);
	assert_non_null(h);
	assert_string_equal(json_string_value(json_object_get(h, "since")),
	                    "2026-09-01T08:16:00Z");
	json_t *hist = json_object_get(h, "history");
	assert_int_equal(json_array_size(hist), 4);
	assert_true(json_is_null(
	    json_object_get(json_array_get(hist, 0), "since"))); /* start */
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(hist, 1), "since")),
	                    "2026-09-01T05:31:00Z");
	json_decref(h);
	/* hourly buckets from 07:00: the 08:00 bucket counts only the
	 * minutes from 08:16 on, earlier ones are left out */
	struct api_err e;
	json_t *u = usage_query_from(T.st, "d", t0 + 7 * 3600, t0 + 10 * 3600,
	                             3600, since, &e);
	assert_non_null(u);
	assert_string_equal(
	    json_string_value(json_object_get(u, "visible_from")),
	    "2026-09-01T08:16:00Z");
	json_t *bs = json_object_get(u, "buckets");
	assert_int_equal(json_array_size(bs), 3);
	for (int i = 0; i < 3; i++) {
		uint64_t want = 0;
		for (int k = 1; k <= MINUTES; k++) {
			int64_t end = (int64_t)k * 60;
			if (end >= since - t0 && end / 3600 == 7 + i)
				want += cpu_inc[k];
		}
		assert_int_equal(json_integer_value(json_object_get(
		                     json_array_get(bs, (size_t)i), "cpu_ns")),
		                 want);
	}
	json_decref(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(each_owner_is_billed_its_own_minutes),
	    cmocka_unit_test(history_and_usage_view_start_at_the_change),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
