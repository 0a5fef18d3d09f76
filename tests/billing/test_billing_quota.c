/*
 * Monthly quotas as an operator sees them: the evaluation that follows the
 * METER batch crossing a limit returns the PAUSE (suspend) or puts the
 * reduced shares into the effective desired state (throttle), and both are
 * lifted when the limit is raised above the usage or the month ends.
 * Invalid quotas are refused with the right code and change nothing.
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
#include "billingd/desired.h"
#include "helpers.h"

static struct tb T;
static int64_t boot, wall0_s;

static int setup(void **state)
{
	(void)state;
	tb_open(&T);
	/* the samples land in the current month: quota_put counts from now */
	wall0_s = tb_now_s() - 3600;
	boot = tb_boot(&T, 0x51, wall0_s * 1000000000);
	tb_name(&T, boot, 1, "q1");
	tb_name(&T, boot, 2, "q2");
	tb_name(&T, boot, 3, "q3");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tb_close(&T);
	return 0;
}

static void meter(uint16_t domid, uint64_t mono_s, uint64_t cpu_s,
                  uint64_t io_bytes)
{
	struct usage_counters c = {.cpu_ns = cpu_s * 1000000000ull,
	                           .blk_read_bytes = io_bytes / 2,
	                           .blk_write_bytes = io_bytes - io_bytes / 2,
	                           .mem_pages = 256};
	tb_meter(&T, boot, mono_s * 1000000000ull, 1, &domid, &c);
}

static void put(const char *dom, const char *body)
{
	struct api_err e = {0};
	json_t *j = json_loads(body, 0, NULL);
	assert_non_null(j);
	if (quota_put(T.st, dom, j, &e))
		fail_msg("quota_put %s: %s", body, e.detail);
	json_decref(j);
}

/* Evaluate at now_s; returns the number of actions, the first in *a. */
static size_t evaluate_at(int64_t now_s, struct quota_action *a, bool *chg)
{
	struct quota_action *acts;
	size_t n;
	char err[256];
	bool changed;
	if (quota_evaluate_ex(T.st, now_s * 1000000000, &acts, &n, &changed,
	                      err, sizeof(err)))
		fail_msg("quota_evaluate: %s", err);
	if (n && a)
		*a = acts[0];
	if (chg)
		*chg = changed;
	free(acts);
	return n;
}

static size_t evaluate(struct quota_action *a, bool *chg)
{
	return evaluate_at(tb_now_s(), a, chg);
}

static int64_t next_month_s(void)
{
	time_t now = (time_t)tb_now_s();
	struct tm tm;
	gmtime_r(&now, &tm);
	int y = tm.tm_year + 1900, m = tm.tm_mon + 2;
	if (m == 13) {
		y++;
		m = 1;
	}
	return tb_utc(y, m, 1, 0, 0, 0);
}

static void suspend_pauses_on_first_evaluation_after_crossing(void **state)
{
	(void)state;
	struct quota_action a;
	meter(1, 60, 10, 0);
	tb_rollup(&T); /* part of the month from the rollups */
	put("q1", "{\"limits\":{\"cpu_seconds\":{\"limit\":30,"
	          "\"action\":\"suspend\"}}}");
	assert_int_equal(evaluate(NULL, NULL), 0);
	meter(1, 120, 29, 0); /* 29 s < 30 s */
	assert_int_equal(evaluate(NULL, NULL), 0);
	meter(1, 180, 30, 0); /* exhausted: the very next evaluation */
	assert_int_equal(evaluate(&a, NULL), 1);
	assert_string_equal(a.name, "q1");
	assert_int_equal(a.kind, QUOTA_PAUSE);
	assert_int_equal(tb_int(&T, "SELECT count(*) FROM quota_events WHERE "
	                            "domain='q1' AND kind='crossed' AND "
	                            "usage='30' AND lim=30"),
	                 1);
	/* not handed out again while the caller is at it */
	assert_int_equal(evaluate(NULL, NULL), 0);
	assert_int_equal(quota_action_done(T.st, &a, 0), 0);
	meter(1, 240, 35, 0);
	assert_int_equal(evaluate(NULL, NULL), 0);
	/* raised above the usage: unpaused */
	put("q1", "{\"limits\":{\"cpu_seconds\":{\"limit\":36,"
	          "\"action\":\"suspend\"}}}");
	assert_int_equal(evaluate(&a, NULL), 1);
	assert_int_equal(a.kind, QUOTA_UNPAUSE);
	assert_int_equal(quota_action_done(T.st, &a, 0), 0);
	assert_int_equal(tb_int(&T, "SELECT count(*) FROM quota_events WHERE "
	                            "domain='q1' AND kind='lifted' AND "
	                            "reason='raised'"),
	                 1);
	assert_int_equal(evaluate(NULL, NULL), 0);
}

static void failed_pause_is_retried_later_not_every_batch(void **state)
{
	(void)state;
	struct quota_action a;
	put("q1", "{\"limits\":{\"cpu_seconds\":{\"limit\":36,"
	          "\"action\":\"suspend\"}}}");
	meter(1, 300, 40, 0);
	int64_t now = tb_now_s();
	assert_int_equal(evaluate_at(now, &a, NULL), 1);
	assert_int_equal(a.kind, QUOTA_PAUSE);
	assert_int_equal(quota_action_done(T.st, &a, -5), 0);
	assert_int_equal(evaluate_at(now + 1, NULL, NULL), 0);
	assert_int_equal(evaluate_at(now + 61, &a, NULL), 1);
	assert_int_equal(a.kind, QUOTA_PAUSE);
	assert_int_equal(quota_action_done(T.st, &a, 0), 0);
}

static void suspend_is_lifted_at_the_month_boundary(void **state)
{
	(void)state;
	struct quota_action a;
	assert_int_equal(evaluate_at(next_month_s(), &a, NULL), 1);
	assert_int_equal(a.kind, QUOTA_UNPAUSE);
	assert_int_equal(tb_int(&T, "SELECT count(*) FROM quota_events WHERE "
	                            "domain='q1' AND kind='lifted' AND "
	                            "reason='month'"),
	                 1);
	assert_int_equal(quota_action_done(T.st, &a, 0), 0);
	put("q1", "{\"limits\":{}}");
}

static const struct desired_row *row_of(struct desired_row *rows, size_t n,
                                        const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	fail_msg("no desired row for %s", name);
	return NULL;
}

static void expect_shares(const char *name, uint64_t weight, bool has_bps,
                          uint64_t bps, int64_t *gen)
{
	struct desired_row *rows;
	size_t n;
	assert_int_equal(desired_load(T.st, &rows, &n), 0);
	const struct desired_row *r = row_of(rows, n, name);
	assert_true(r->p.set & (1u << KV_CPU_WEIGHT));
	assert_int_equal(r->p.v[KV_CPU_WEIGHT], weight);
	assert_int_equal(!!(r->p.set & (1u << KV_IO_BPS)), has_bps);
	if (has_bps)
		assert_int_equal(r->p.v[KV_IO_BPS], bps);
	assert_true(r->generation > *gen); /* the session will push it */
	*gen = r->generation;
	free(rows);
}

static void
throttle_overlays_desired_state_until_raised_or_month_end(void **state)
{
	(void)state;
	struct kv_params p = {0};
	char err[256];
	bool chg;
	int64_t gen = 0;
	assert_int_equal(kv_set(&p, KV_CPU_WEIGHT, 512, err, sizeof(err)), 0);
	assert_int_equal(billingd_set_desired(T.st, "q2", &p, err, sizeof(err)),
	                 0);
	expect_shares("q2", 512, false, 0, &gen);
	put("q2", "{\"limits\":{\"io_bytes\":{\"limit\":1000000,"
	          "\"action\":\"throttle\",\"throttle\":{\"cpu_weight\":64,"
	          "\"io_bps\":500000}}}}");
	meter(2, 60, 1, 999999);
	assert_int_equal(evaluate(NULL, &chg), 0);
	assert_false(chg);
	meter(2, 120, 1, 1000000);
	assert_int_equal(evaluate(NULL, &chg), 0);
	assert_true(chg);
	expect_shares("q2", 64, true, 500000, &gen);
	/* one domain's effective values, as the API shows them in force */
	struct kv_params eff;
	int64_t q2 = tb_int(&T, "SELECT id FROM domains WHERE name='q2'");
	assert_int_equal(desired_effective(T.st, q2, &eff), 0);
	assert_int_equal(eff.v[KV_CPU_WEIGHT], 64);
	assert_int_equal(eff.v[KV_IO_BPS], 500000);
	/* the operator's own value is kept underneath */
	assert_int_equal(tb_int(&T, "SELECT cpu_weight FROM desired d JOIN "
	                            "domains m ON m.id=d.domain WHERE "
	                            "m.name='q2'"),
	                 512);
	/* raised: back to 512; io_bps, never the operator's, to unlimited */
	put("q2", "{\"limits\":{\"io_bytes\":{\"limit\":2000000,"
	          "\"action\":\"throttle\",\"throttle\":{\"cpu_weight\":64,"
	          "\"io_bps\":500000}}}}");
	assert_int_equal(evaluate(NULL, &chg), 0);
	assert_true(chg);
	expect_shares("q2", 512, true, 0, &gen);
	/* again over, then the month ends */
	meter(2, 180, 1, 3000000);
	evaluate(NULL, &chg);
	assert_true(chg);
	expect_shares("q2", 64, true, 500000, &gen);
	evaluate_at(next_month_s() + 5, NULL, &chg);
	assert_true(chg);
	expect_shares("q2", 512, true, 0, &gen);
	assert_int_equal(tb_int(&T, "SELECT count(*) FROM quota_state"), 0);
}

static void quota_get_reports_limits_usage_and_what_is_in_force(void **state)
{
	(void)state;
	put("q3", "{\"limits\":{\"cpu_seconds\":{\"limit\":5,"
	          "\"action\":\"notify\"},\"memory_mib_hours\":{\"limit\":9,"
	          "\"action\":\"notify\"}}}");
	meter(3, 60, 7, 0);
	evaluate(NULL, NULL);
	struct api_err e;
	json_t *g = quota_get(T.st, "q3", &e);
	assert_non_null(g);
	json_t *u = json_object_get(g, "usage");
	assert_int_equal(json_integer_value(json_object_get(u, "cpu_seconds")),
	                 7);
	json_t *f = json_object_get(g, "in_force");
	assert_int_equal(json_array_size(f), 1);
	assert_string_equal(json_string_value(json_array_get(f, 0)),
	                    "cpu_seconds");
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(json_object_get(g, "limits"), "cpu_seconds"),
	        "limit")),
	    5);
	json_decref(g);
}

static void bad_quotas_are_refused_and_change_nothing(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		enum api_code code;
	} bad[] = {
	    {"[]", API_INVALID_FIELD},
	    {"{}", API_MISSING_FIELD},
	    {"{\"limits\":{},\"x\":1}", API_UNKNOWN_FIELD},
	    {"{\"limits\":[]}", API_INVALID_FIELD},
	    {"{\"limits\":{\"disk\":{\"limit\":1,\"action\":\"notify\"}}}",
	     API_UNKNOWN_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":-1,\"action\":\"notify\"}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":\"5\",\"action\":\"notify\"}}"
	     "}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1.5,\"action\":\"notify\"}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":9007199254740992,"
	     "\"action\":\"notify\"}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1}}}", API_MISSING_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"kill\"}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"throttle\"}}}",
	     API_MISSING_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"suspend\","
	     "\"throttle\":{\"io_bps\":1}}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"throttle\","
	     "\"throttle\":{}}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"throttle\","
	     "\"throttle\":{\"cpu_cap_pct\":101}}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"throttle\","
	     "\"throttle\":{\"io_bps\":0}}}}",
	     API_INVALID_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"throttle\","
	     "\"throttle\":{\"memory_max_mb\":5}}}}",
	     API_UNKNOWN_FIELD},
	    {"{\"limits\":{\"io_ops\":{\"limit\":1,\"action\":\"notify\","
	     "\"extra\":true}}}",
	     API_UNKNOWN_FIELD},
	};
	struct api_err e;
	json_t *before = quota_get(T.st, "q3", &e);
	int64_t rows = tb_int(&T, "SELECT count(*) FROM quotas");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i].body, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		e.code = API_OK;
		assert_int_equal(quota_put(T.st, "q3", j, &e), -1);
		if (e.code != bad[i].code)
			fail_msg("%s: code %d, want %d (%s)", bad[i].body,
			         e.code, bad[i].code, e.detail);
		json_decref(j);
	}
	json_t *j = json_loads("{\"limits\":{}}", 0, NULL);
	assert_int_equal(quota_put(T.st, "nosuch", j, &e), -1);
	assert_int_equal(e.code, API_NOT_FOUND);
	assert_null(quota_get(T.st, "nosuch", &e));
	assert_int_equal(e.code, API_NOT_FOUND);
	json_decref(j);
	json_t *after = quota_get(T.st, "q3", &e);
	assert_true(json_equal(json_object_get(before, "limits"),
	                       json_object_get(after, "limits")));
	assert_int_equal(tb_int(&T, "SELECT count(*) FROM quotas"), rows);
	json_decref(before);
	json_decref(after);
}

/* With no quota anywhere an evaluation skips its write (it has nothing to
 * do); the quota first set afterwards still counts every delta exactly
 * once, and a quota-less GET counts the rolled-up and the pending deltas
 * of its own domain only. */
static size_t evaluate_store(struct store *st, struct quota_action *a)
{
	struct quota_action *acts;
	size_t n;
	char err[256];
	if (quota_evaluate(st, store_wall_ns(), &acts, &n, err, sizeof(err)))
		fail_msg("quota_evaluate: %s", err);
	if (n && a)
		*a = acts[0];
	free(acts);
	return n;
}

static int64_t cpu_usage(struct store *st, const char *dom)
{
	struct api_err e;
	json_t *g = quota_get(st, dom, &e);
	assert_non_null(g);
	int64_t v = json_integer_value(
	    json_object_get(json_object_get(g, "usage"), "cpu_seconds"));
	json_decref(g);
	return v;
}

static void usage_stays_exact_after_evaluations_without_quotas(void **state)
{
	(void)state;
	struct tb L;
	struct quota_action a;
	struct api_err e;
	tb_open(&L);
	int64_t b = tb_boot(&L, 0x52, (tb_now_s() - 3600) * 1000000000);
	tb_name(&L, b, 1, "n1");
	tb_name(&L, b, 2, "n2");
	uint16_t ids[2] = {1, 2};
	struct usage_counters c[2] = {{0}};
	for (uint64_t s = 1; s <= 24; s++) {
		c[0].cpu_ns = s * 1000000000ull; /* n1: 1 s a second */
		c[1].cpu_ns = s * 3000000000ull; /* n2: 3 */
		tb_meter(&L, b, s * 1000000000ull, 2, ids, c);
		if (s == 10)
			tb_rollup(&L); /* 10 s rolled up, the rest pending */
		if (s == 20) {
			assert_int_equal(cpu_usage(L.st, "n1"), 20);
			assert_int_equal(cpu_usage(L.st, "n2"), 60);
			json_t *j = json_loads(
			    "{\"limits\":{\"cpu_seconds\":{\"limit\":25,"
			    "\"action\":\"suspend\"}}}",
			    0, NULL);
			assert_int_equal(quota_put(L.st, "n1", j, &e), 0);
			json_decref(j);
		}
		assert_int_equal(evaluate_store(L.st, NULL), 0);
	}
	assert_int_equal(cpu_usage(L.st, "n1"), 24);
	c[0].cpu_ns = 25000000000ull;
	c[1].cpu_ns = 75000000000ull;
	tb_meter(&L, b, 25000000000ull, 2, ids, c);
	assert_int_equal(evaluate_store(L.st, &a), 1);
	assert_string_equal(a.name, "n1");
	assert_int_equal(a.kind, QUOTA_PAUSE);
	assert_int_equal(tb_int(&L, "SELECT count(*) FROM quota_events WHERE "
	                            "domain='n1' AND kind='crossed' AND "
	                            "usage='25'"),
	                 1);
	tb_close(&L);
}

/* The API checks If-Match and writes in one transaction it holds:
 * quota_put() must then neither commit nor end it, so a rollback by the
 * caller (a 412 found late, a failed commit) leaves the old quota. */
static void quota_put_inside_callers_transaction_is_rolled_back_with_it(
    void **state)
{
	(void)state;
	put("q3", "{\"limits\":{\"io_ops\":{\"limit\":5,"
	          "\"action\":\"notify\"}}}");
	assert_int_equal(store_begin(T.st), 0);
	put("q3", "{\"limits\":{\"io_ops\":{\"limit\":6,"
	          "\"action\":\"notify\"}}}");
	assert_true(store_in_tx(T.st));
	store_rollback(T.st);
	assert_int_equal(tb_int(&T, "SELECT lim FROM quotas q JOIN domains d "
	                            "ON d.id=q.domain WHERE d.name='q3'"),
	                 5);
	put("q3", "{\"limits\":{}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(suspend_pauses_on_first_evaluation_after_crossing),
	    cmocka_unit_test(failed_pause_is_retried_later_not_every_batch),
	    cmocka_unit_test(suspend_is_lifted_at_the_month_boundary),
	    cmocka_unit_test(
	        throttle_overlays_desired_state_until_raised_or_month_end),
	    cmocka_unit_test(
	        quota_get_reports_limits_usage_and_what_is_in_force),
	    cmocka_unit_test(bad_quotas_are_refused_and_change_nothing),
	    cmocka_unit_test(
	        usage_stays_exact_after_evaluations_without_quotas),
	    cmocka_unit_test(
	        quota_put_inside_callers_transaction_is_rolled_back_with_it),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
