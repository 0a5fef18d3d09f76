/*
 * Plans as an operator manages them: seeded once from config/billing.conf
 * (errors name the file and line), replaced whole through the API, and a
 * bad plan - or one that would strand a customer - is refused with the
 * right code and changes nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "billingd/billing.h"
#include "helpers.h"

static struct tb T;

static int setup(void **state)
{
	(void)state;
	tb_open(&T);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tb_close(&T);
	return 0;
}

static json_t *plan_named(json_t *doc, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(doc, "plans"), i, p)
	{
		if (!strcmp(json_string_value(json_object_get(p, "name")),
		            name))
			return p;
	}
	return NULL;
}

static int64_t field(json_t *p, const char *obj, const char *k)
{
	return json_integer_value(json_object_get(json_object_get(p, obj), k));
}

static void seeded_from_config_once(void **state)
{
	(void)state;
	char err[256];
	struct api_err e;
	assert_int_equal(
	    billing_seed_plans(T.st, "config/billing.conf", err, sizeof(err)),
	    0);
	json_t *d = billing_plans_get(T.st, &e);
	json_t *p = plan_named(d, "default");
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "currency")),
	                    "EUR");
	assert_int_equal(json_integer_value(json_object_get(p, "base_micro")),
	                 2000000);
	assert_int_equal(field(p, "prices_micro", "cpu_hour"), 12000);
	assert_int_equal(field(p, "prices_micro", "read_gib"), 5000);
	assert_int_equal(field(p, "included", "cpu_hours"), 10);
	assert_non_null(plan_named(d, "pro"));
	/* a second seed (another start) leaves the stored plans alone */
	char path[256];
	snprintf(path, sizeof(path), "%s/other.conf", T.dir);
	FILE *f = fopen(path, "w");
	fputs("[plan default]\nbase=9\ncpu_hour=9\nmemory_gib_month=9\n"
	      "read_gib=9\nwrite_gib=9\nio_million_ops=9\n",
	      f);
	fclose(f);
	assert_int_equal(billing_seed_plans(T.st, path, err, sizeof(err)), 0);
	json_t *d2 = billing_plans_get(T.st, &e);
	assert_true(json_equal(d, d2));
	unlink(path);
	json_decref(d);
	json_decref(d2);
}

static void config_errors_name_file_and_line(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"currency = EUR\n[plan default]\nbase = 1.2345678\n", ":3: "},
	    {"[plan default]\nbase=1\ncpu_hour=1\nmemory_gib_month=1\n"
	     "read_gib=1\nwrite_gib=1\nio_million_ops=1\nbogus = 2\n",
	     ":8: unknown key"},
	    {"# c\n[plan default]\nbase=1\n", ":2: plan default: base and"},
	    {"[plan x]\nbase=1\ncpu_hour=1\nmemory_gib_month=1\n"
	     "read_gib=1\nwrite_gib=1\nio_million_ops=1\n",
	     "no [plan default]"},
	    {"[plan bad name]\n", ":1: a plan name"},
	    {"currency = euro\n", ":1: currency"},
	    {"[plan default]\nincluded_cpu_hours = -1\n", ":2: an included"},
	    {"[plan default]\ncurrency = EUR\n[plan default]\n",
	     ":3: plan defined twice"},
	};
	struct tb t;
	tb_open(&t);
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/bad.conf", t.dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(path, "w");
		fputs(bad[i].text, f);
		fclose(f);
		err[0] = 0;
		assert_int_equal(
		    billing_seed_plans(t.st, path, err, sizeof(err)), -1);
		if (strncmp(err, path, strlen(path)) ||
		    !strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
			         bad[i].want);
		assert_int_equal(tb_int(&t, "SELECT count(*) FROM plans"), 0);
	}
	unlink(path);
	tb_close(&t);
}

static void bad_plans_are_refused_and_change_nothing(void **state)
{
	(void)state;
#define P(x)                                                                   \
	"{\"plans\":[{\"name\":\"default\",\"currency\":\"EUR\","              \
	"\"base_micro\":1,\"prices_micro\":{\"cpu_hour\":1,"                   \
	"\"memory_gib_month\":1,\"read_gib\":1,\"write_gib\":1,"               \
	"\"io_mops\":1}" x "}]}"
	static const struct {
		const char *body;
		enum api_code code;
	} bad[] = {
	    {"[]", API_INVALID_FIELD},
	    {"{}", API_MISSING_FIELD},
	    {"{\"plans\":[]}", API_INVALID_FIELD},
	    {"{\"plans\":[],\"x\":1}", API_UNKNOWN_FIELD},
	    {P(",\"x\":1"), API_UNKNOWN_FIELD},
	    {P(",\"included\":{\"cpu_hours\":-1}"), API_INVALID_FIELD},
	    {P(",\"included\":{\"gpu_hours\":1}"), API_UNKNOWN_FIELD},
	    {P(",\"included\":[]"), API_INVALID_FIELD},
	    {"{\"plans\":[{\"name\":\"default\",\"currency\":\"EUR\","
	     "\"base_micro\":1,\"prices_micro\":{\"cpu_hour\":1}}]}",
	     API_MISSING_FIELD},
	    {"{\"plans\":[{\"name\":\"default\",\"currency\":\"EUR\","
	     "\"base_micro\":-1,\"prices_micro\":{}}]}",
	     API_INVALID_FIELD},
	    {"{\"plans\":[{\"name\":\"default\",\"currency\":\"eur\","
	     "\"base_micro\":1,\"prices_micro\":{}}]}",
	     API_INVALID_FIELD},
	    {"{\"plans\":[{\"name\":\"no spaces\",\"currency\":\"EUR\","
	     "\"base_micro\":1,\"prices_micro\":{}}]}",
	     API_INVALID_FIELD},
	    {"{\"plans\":[{\"name\":\"default\",\"currency\":\"EUR\","
	     "\"base_micro\":1,\"prices_micro\":{\"cpu_hour\":1000000000001,"
	     "\"memory_gib_month\":1,\"read_gib\":1,\"write_gib\":1,"
	     "\"io_mops\":1}}]}",
	     API_INVALID_FIELD},
	    {"{\"plans\":[{\"name\":\"cheap\",\"currency\":\"EUR\","
	     "\"base_micro\":1,\"prices_micro\":{\"cpu_hour\":1,"
	     "\"memory_gib_month\":1,\"read_gib\":1,\"write_gib\":1,"
	     "\"io_mops\":1}}]}",
	     API_INVALID_FIELD}, /* no default */
	    /* 'pro' is some customer's plan */
	    {P(""), API_CONFLICT},
	};
	struct api_err e;
	tb_sql(&T, "INSERT INTO customers(id,name,created_unix_ns,"
	           "updated_unix_ns,plan) VALUES('c1','C1',0,0,'pro')");
	json_t *before = billing_plans_get(T.st, &e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i].body, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		e.code = API_OK;
		assert_int_equal(billing_plans_put(T.st, j, &e), -1);
		if (e.code != bad[i].code)
			fail_msg("%s: code %d, want %d (%s)", bad[i].body,
			         e.code, bad[i].code, e.detail);
		json_decref(j);
		json_t *after = billing_plans_get(T.st, &e);
		assert_true(json_equal(before, after));
		json_decref(after);
	}
	/* a duplicate plan name */
	json_t *two = json_loads(P(""), 0, NULL);
	json_t *arr = json_object_get(two, "plans");
	json_array_append_new(arr, json_deep_copy(json_array_get(arr, 0)));
	assert_int_equal(billing_plans_put(T.st, two, &e), -1);
	assert_int_equal(e.code, API_INVALID_FIELD);
	/* and a good replacement goes through whole */
	json_object_set_new(json_array_get(arr, 1), "name", json_string("pro"));
	assert_int_equal(billing_plans_put(T.st, two, &e), 0);
	json_t *now = billing_plans_get(T.st, &e);
	assert_int_equal(json_array_size(json_object_get(now, "plans")), 2);
	assert_int_equal(
	    field(plan_named(now, "pro"), "prices_micro", "io_mops"), 1);
	json_decref(now);
	json_decref(two);
	json_decref(before);
#undef P
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(seeded_from_config_once),
	    cmocka_unit_test(config_errors_name_file_and_line),
	    cmocka_unit_test(bad_plans_are_refused_and_change_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
