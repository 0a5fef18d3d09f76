/*
 * Usage queries as a dashboard reads them: 1-minute, 1-hour and 1-day
 * buckets equal the counters' increments whose interval ends in each
 * bucket, including the newest ones the rollups have not reached, with
 * memory page-ns past 2^64 per bucket kept exact; the range is widened to
 * whole buckets and the totals are exactly their sum.
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
#include "helpers.h"

typedef unsigned __int128 u128;

#define MINUTES (50 * 60)
#define PAGES (1ull << 26) /* 256 GiB: an hour is > 2^64 page-ns */

static struct tb T;
static int64_t t0; /* 2026-10-01 00:00:00 UTC */
static uint64_t cpu_inc[MINUTES + 1];

static int setup(void **state)
{
	(void)state;
	tb_open(&T);
	t0 = tb_utc(2026, 10, 1, 0, 0, 0);
	int64_t b = tb_boot(&T, 0x77, t0 * 1000000000);
	tb_name(&T, b, 5, "u1");
	uint16_t id = 5;
	struct usage_counters c = {.mem_pages = PAGES};
	for (int k = 1; k <= MINUTES; k++) {
		cpu_inc[k] = (uint64_t)(k % 7 + 1) * 1000000000ull;
		c.cpu_ns += cpu_inc[k];
		c.mem_page_ns += PAGES * 60000000000ull; /* wraps */
		tb_meter(&T, b, (uint64_t)k * 60000000000ull, 1, &id, &c);
		if (k == 40 * 60)
			tb_rollup(&T); /* the last 10 hours stay raw */
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tb_close(&T);
	return 0;
}

/* Expected sums over the deltas ending in [from, to). */
static void expect(int64_t from, int64_t to, u128 *cpu, u128 *mem)
{
	*cpu = *mem = 0;
	for (int k = 1; k <= MINUTES; k++) {
		int64_t end = t0 + (int64_t)k * 60;
		if (end >= from && end < to) {
			*cpu += cpu_inc[k];
			*mem += (u128)PAGES * 60000000000ull;
		}
	}
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

static void check(json_t *doc, int64_t from, int64_t step, size_t nb)
{
	json_t *bs = json_object_get(doc, "buckets");
	assert_int_equal(json_array_size(bs), nb);
	u128 tc = 0, tm = 0, cpu, mem;
	char want[48];
	for (size_t i = 0; i < nb; i++) {
		json_t *b = json_array_get(bs, i);
		expect(from + (int64_t)i * step, from + (int64_t)(i + 1) * step,
		       &cpu, &mem);
		assert_int_equal(
		    json_integer_value(json_object_get(b, "cpu_ns")), cpu);
		u128_dec(mem, want);
		assert_string_equal(
		    json_string_value(json_object_get(b, "mem_page_ns")), want);
		tc += cpu;
		tm += mem;
	}
	json_t *tot = json_object_get(doc, "totals");
	assert_int_equal(json_integer_value(json_object_get(tot, "cpu_ns")),
	                 tc);
	u128_dec(tm, want);
	assert_string_equal(
	    json_string_value(json_object_get(tot, "mem_page_ns")), want);
}

static void hourly_buckets_widen_to_whole_hours_and_sum_exactly(void **state)
{
	(void)state;
	struct api_err e;
	json_t *d =
	    usage_query(T.st, "u1", t0 + 1810, t0 + 86400 + 4200, 3600, &e);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "from")),
	                    "2026-10-01T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(d, "to")),
	                    "2026-10-02T02:00:00Z");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_array_get(json_object_get(d, "buckets"), 1), "start")),
	    "2026-10-01T01:00:00Z");
	check(d, t0, 3600, 26);
	json_decref(d);
}

static void minute_buckets_include_deltas_not_rolled_up_yet(void **state)
{
	(void)state;
	struct api_err e;
	int64_t from = t0 + 40 * 3600 - 600;
	json_t *d = usage_query(T.st, "u1", from + 30, from + 1200, 60, &e);
	assert_non_null(d);
	check(d, from, 60, 20);
	json_decref(d);
}

static void daily_buckets_are_sums_of_hours(void **state)
{
	(void)state;
	struct api_err e;
	json_t *d = usage_query(T.st, "u1", t0, t0 + 3 * 86400, 86400, &e);
	assert_non_null(d);
	check(d, t0, 86400, 3);
	json_decref(d);
}

static void bad_queries_are_refused(void **state)
{
	(void)state;
	struct api_err e;
	e.code = API_OK;
	assert_null(usage_query(T.st, "u1", t0, t0 + 60, 120, &e));
	assert_int_equal(e.code, API_BAD_PARAMETER);
	e.code = API_OK;
	assert_null(usage_query(T.st, "u1", t0, t0, 60, &e));
	assert_int_equal(e.code, API_BAD_PARAMETER);
	e.code = API_OK;
	assert_null(usage_query(T.st, "u1", t0, t0 + 365 * 86400, 60, &e));
	assert_int_equal(e.code, API_BAD_PARAMETER);
	e.code = API_OK;
	assert_null(usage_query(T.st, "u1", -5, t0, 86400, &e));
	assert_int_equal(e.code, API_BAD_PARAMETER);
	e.code = API_OK;
	assert_null(usage_query(T.st, "nosuch", t0, t0 + 60, 60, &e));
	assert_int_equal(e.code, API_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        hourly_buckets_widen_to_whole_hours_and_sum_exactly),
	    cmocka_unit_test(minute_buckets_include_deltas_not_rolled_up_yet),
	    cmocka_unit_test(daily_buckets_are_sums_of_hours),
	    cmocka_unit_test(bad_queries_are_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
