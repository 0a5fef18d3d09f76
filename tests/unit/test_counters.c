/*
 * What billing notices about the usage counters: every field is reachable by
 * name in wire order, memory-seconds are integrated exactly, and turning
 * cumulative samples into deltas never bills a lost, duplicated, resent or
 * post-reboot sample twice, nor a negative or wrapped-around amount.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tools/common/rng.h"

#include "accounting/counters.h"
#include "fs_errors.h"

__extension__ typedef unsigned __int128 u128;

static uint64_t rng_state;

static uint64_t rnd(void)
{
	return rng_next(&rng_state);
}

/* ---- fields ------------------------------------------------------------- */

/* The wire format and the tools iterate fields by index: the names and
 * order must be exactly these, and each index must reach its member. */
static void test_fields_are_in_wire_order_and_reach_their_member(void **s)
{
	static const char *const want[USAGE_NFIELDS] = {
	    "cpu_ns",         "ready_ns",        "cap_throttled_ns",
	    "warped_ns",      "dispatches",      "wakeups",
	    "hypercalls",     "blk_read_ops",    "blk_write_ops",
	    "blk_read_bytes", "blk_write_bytes", "blk_throttled_ns",
	    "mem_pages",      "mem_page_ns",
	};
	struct usage_counters c;
	unsigned i;

	(void)s;
	for (i = 0; i < USAGE_NFIELDS; i++) {
		assert_string_equal(usage_field_name(i), want[i]);
		memset(&c, 0, sizeof(c));
		*usage_field(&c, i) = 1000 + i;
		assert_int_equal(usage_field_get(&c, i), 1000 + i);
		/* In struct order: field i is the i-th u64. */
		assert_int_equal(((const uint64_t *)(const void *)&c)[i],
		                 1000 + i);
	}
	memset(&c, 0, sizeof(c));
	*usage_field(&c, 0) = 7;
	assert_int_equal(c.cpu_ns, 7);
	*usage_field(&c, 11) = 8;
	assert_int_equal(c.blk_throttled_ns, 8);
	*usage_field(&c, 13) = 9;
	assert_int_equal(c.mem_page_ns, 9);
	assert_null(usage_field_name(USAGE_NFIELDS));
	assert_null(usage_field(&c, USAGE_NFIELDS));
}

static void test_only_mem_pages_is_a_gauge(void **s)
{
	(void)s;
	for (unsigned i = 0; i < USAGE_NFIELDS; i++)
		assert_int_equal(usage_field_is_gauge(i),
		                 strcmp(usage_field_name(i), "mem_pages") == 0);
	assert_false(usage_field_is_gauge(USAGE_NFIELDS));
}

/* ---- memory integral ---------------------------------------------------- */

/* Memory-seconds are billed from mem_page_ns: each stretch of time is billed
 * at the page count that held during it, to the nanosecond. */
static void test_mem_page_ns_bills_each_stretch_at_its_page_count(void **s)
{
	struct usage_counters c = {0};
	ns_t stamp = 1000;

	(void)s;
	usage_mem_set(&c, 256, 1000, &stamp); /* domain created */
	assert_int_equal(c.mem_page_ns, 0);
	usage_mem_set(&c, 512, 1000 + 3 * NS_PER_S, &stamp); /* balloon up */
	assert_int_equal(c.mem_page_ns, 256 * 3 * NS_PER_S);
	assert_int_equal(c.mem_pages, 512);
	usage_mem_set(&c, 512, 1000 + 5 * NS_PER_S, &stamp); /* sample */
	assert_int_equal(c.mem_page_ns,
	                 256 * 3 * NS_PER_S + 512 * 2 * NS_PER_S);
	assert_int_equal(stamp, 1000 + 5 * NS_PER_S);
	/* A stale clock adds nothing and keeps the stamp. */
	usage_mem_set(&c, 0, 10, &stamp);
	assert_int_equal(c.mem_page_ns,
	                 256 * 3 * NS_PER_S + 512 * 2 * NS_PER_S);
	assert_int_equal(stamp, 1000 + 5 * NS_PER_S);
	assert_int_equal(c.mem_pages, 0);
}

/* 1 TiB of pages for a year is 2^28 * 3.15e16 page-ns, far past 2^64: the
 * integral is exact modulo 2^64, as usage_delta() expects. */
static void test_mem_page_ns_is_exact_modulo_2_64_for_huge_domains(void **s)
{
	struct usage_counters c = {0};
	ns_t stamp = 0, year = 365ull * 24 * 3600 * NS_PER_S;
	u128 exact = 0;

	(void)s;
	usage_mem_set(&c, 1ull << 28, 0, &stamp);
	usage_mem_set(&c, 3, year, &stamp);
	exact += (u128)(1ull << 28) * year;
	usage_mem_set(&c, 3, year + 7, &stamp);
	exact += 3 * 7;
	assert_int_equal(c.mem_page_ns, (uint64_t)exact);
}

/* ---- deltas ------------------------------------------------------------- */

static struct usage_sample sample(uint64_t boot, ns_t ns, uint64_t base)
{
	struct usage_sample x = {.boot_id = boot, .ns = ns};

	for (unsigned i = 0; i < USAGE_NFIELDS; i++)
		*usage_field(&x.c, i) = base * (i + 1);
	return x;
}

/* After a reboot the counters restart from zero: the new values are the
 * usage, not new - old (which would be negative, or huge as u64). */
static void test_new_boot_bills_current_counters_never_negative(void **s)
{
	struct usage_sample a = sample(1, 5 * NS_PER_S, 1000);
	struct usage_sample b = sample(2, 1 * NS_PER_S, 10);
	struct usage_counters d;

	(void)s;
	assert_int_equal(usage_delta(&a, &b, &d), USAGE_DELTA_NEW_BOOT);
	assert_memory_equal(&d, &b.c, sizeof(d));
	/* The first sample ever is a new boot too. */
	assert_int_equal(usage_delta(NULL, &a, &d), USAGE_DELTA_NEW_BOOT);
	assert_memory_equal(&d, &a.c, sizeof(d));
}

/* A record resent after a reconnect arrives twice: the second copy bills
 * nothing (the gauge still reads its current value). */
static void test_duplicated_sample_bills_nothing(void **s)
{
	struct usage_sample a = sample(1, 5 * NS_PER_S, 1000);
	struct usage_counters d;

	(void)s;
	assert_int_equal(usage_delta(&a, &a, &d), 0);
	for (unsigned i = 0; i < USAGE_NFIELDS; i++)
		assert_int_equal(usage_field_get(&d, i),
		                 usage_field_is_gauge(i) ? a.c.mem_pages : 0);
}

/* A lost record costs nothing: the next delta covers both intervals, and
 * equals the sum of the two deltas that were not seen. */
static void test_lost_sample_next_delta_covers_both_intervals(void **s)
{
	struct usage_sample a = sample(1, 1 * NS_PER_S, 100);
	struct usage_sample b = sample(1, 2 * NS_PER_S, 250);
	struct usage_sample c = sample(1, 3 * NS_PER_S, 400);
	struct usage_counters ab, bc, ac;

	(void)s;
	assert_int_equal(usage_delta(&a, &b, &ab), 0);
	assert_int_equal(usage_delta(&b, &c, &bc), 0);
	assert_int_equal(usage_delta(&a, &c, &ac), 0);
	for (unsigned i = 0; i < USAGE_NFIELDS; i++) {
		if (usage_field_is_gauge(i))
			assert_int_equal(usage_field_get(&ac, i),
			                 c.c.mem_pages);
		else
			assert_int_equal(usage_field_get(&ac, i),
			                 usage_field_get(&ab, i) +
			                     usage_field_get(&bc, i));
	}
}

/* Within a boot a counter that went backwards (a domain's block was
 * re-created) is a reset of that field: bill its current value and say so,
 * never 2^64 - something. */
static void test_counter_going_backwards_is_reset_not_huge_bill(void **s)
{
	struct usage_sample a = sample(1, 1 * NS_PER_S, 100);
	struct usage_sample b = sample(1, 2 * NS_PER_S, 200);
	struct usage_counters d;

	(void)s;
	b.c.blk_write_bytes = 5; /* was 1100 */
	b.c.hypercalls = 1;      /* was 700 */
	assert_int_equal(usage_delta(&a, &b, &d), (1 << 10) | (1 << 6));
	assert_int_equal(d.blk_write_bytes, 5);
	assert_int_equal(d.hypercalls, 1);
	assert_int_equal(d.cpu_ns, 100);
}

/* mem_page_ns wraps every few hours for an ordinary domain; a wrap must bill
 * the page-ns that actually accrued, not be mistaken for a reset. */
static void test_mem_page_ns_wrap_is_billed_exactly_not_as_reset(void **s)
{
	struct usage_sample a = sample(1, 1 * NS_PER_S, 100);
	struct usage_sample b = sample(1, 2 * NS_PER_S, 200);
	struct usage_counters d;

	(void)s;
	a.c.mem_page_ns = UINT64_MAX - 99;
	b.c.mem_page_ns = 400; /* 100 to the wrap, 400 after it */
	assert_int_equal(usage_delta(&a, &b, &d), 0);
	assert_int_equal(d.mem_page_ns, 500);
}

/* The gauge is a level, not a counter: it going down is not a reset and its
 * "delta" is the current level. */
static void test_gauge_carries_current_value_not_difference(void **s)
{
	struct usage_sample a = sample(1, 1 * NS_PER_S, 100);
	struct usage_sample b = sample(1, 2 * NS_PER_S, 200);
	struct usage_counters d;

	(void)s;
	a.c.mem_pages = 4096;
	b.c.mem_pages = 1024;
	assert_int_equal(usage_delta(&a, &b, &d), 0);
	assert_int_equal(d.mem_pages, 1024);
}

/* A resent record older than the reference would make every counter look
 * reset and bill everything again: it is refused and bills nothing. */
static void test_stale_resent_sample_is_refused_not_rebilled(void **s)
{
	struct usage_sample old = sample(1, 1 * NS_PER_S, 100);
	struct usage_sample cur = sample(1, 2 * NS_PER_S, 200);
	struct usage_counters d;

	(void)s;
	memset(&d, 0xff, sizeof(d));
	assert_int_equal(usage_delta(&cur, &old, &d), FS_EINVAL);
	for (unsigned i = 0; i < USAGE_NFIELDS; i++)
		assert_int_equal(usage_field_get(&d, i), 0);
}

/* Any delivery of the true samples (drops, duplicates, stale resends, reboots
 * with fresh boot ids) summed delta by delta gives, per boot, exactly the
 * last delivered cumulative values: the bill never depends on the link. */
static void test_random_drops_and_duplicates_sum_to_final_per_boot(void **s)
{
	enum { NBOOT = 6, NSAMP = 400 };
	static struct usage_sample truth[NBOOT][NSAMP];

	(void)s;
	rng_state = 2176;
	for (int round = 0; round < 50; round++) {
		struct usage_counters total[NBOOT], last[NBOOT];
		bool seen[NBOOT] = {false};
		const struct usage_sample *prev = NULL;

		/* The hypervisor's side: cumulative counters per boot. */
		for (int bt = 0; bt < NBOOT; bt++) {
			struct usage_counters c = {0};
			ns_t now = rnd() % NS_PER_S, stamp = now;

			for (int k = 0; k < NSAMP; k++) {
				now += 1 + rnd() % (10 * NS_PER_S);
				for (unsigned i = 0; i < USAGE_NFIELDS; i++)
					if (!usage_field_is_gauge(i) &&
					    i != USAGE_FIELD_MEM_PAGE_NS &&
					    rnd() % 3)
						*usage_field(&c, i) +=
						    rnd() % (1ull << 40);
				/* Up to 2^30 pages: mem_page_ns wraps often. */
				usage_mem_set(&c,
				              rnd() % (1ull << (rnd() % 31)),
				              now, &stamp);
				truth[bt][k] = (struct usage_sample){
				    .boot_id = (uint64_t)round << 32 | bt,
				    .ns = now,
				    .c = c};
			}
		}
		memset(total, 0, sizeof(total));
		memset(last, 0, sizeof(last));
		/* The link: drop 30%, duplicate 20%, resend an older one 5%. */
		for (int bt = 0; bt < NBOOT; bt++) {
			for (int k = 0; k < NSAMP; k++) {
				const struct usage_sample *in[3];
				int n = 0;

				if (rnd() % 10 < 3)
					continue;
				in[n++] = &truth[bt][k];
				if (rnd() % 10 < 2)
					in[n++] = &truth[bt][k];
				if (rnd() % 20 == 0 && k > 0)
					in[n++] = &truth[bt][rnd() % k];
				for (int j = 0; j < n; j++) {
					struct usage_counters d;
					int r = usage_delta(prev, in[j], &d);

					if (r == FS_EINVAL)
						continue; /* stale */
					assert_true(r == 0 ||
					            r == USAGE_DELTA_NEW_BOOT);
					for (unsigned i = 0; i < USAGE_NFIELDS;
					     i++)
						if (!usage_field_is_gauge(i))
							*usage_field(&total[bt],
							             i) +=
							    usage_field_get(&d,
							                    i);
					assert_int_equal(d.mem_pages,
					                 in[j]->c.mem_pages);
					prev = in[j];
					last[bt] = in[j]->c;
					seen[bt] = true;
				}
			}
		}
		for (int bt = 0; bt < NBOOT; bt++) {
			if (!seen[bt])
				continue;
			for (unsigned i = 0; i < USAGE_NFIELDS; i++)
				if (!usage_field_is_gauge(i))
					assert_int_equal(
					    usage_field_get(&total[bt], i),
					    usage_field_get(&last[bt], i));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_fields_are_in_wire_order_and_reach_their_member),
	    cmocka_unit_test(test_only_mem_pages_is_a_gauge),
	    cmocka_unit_test(
	        test_mem_page_ns_bills_each_stretch_at_its_page_count),
	    cmocka_unit_test(
	        test_mem_page_ns_is_exact_modulo_2_64_for_huge_domains),
	    cmocka_unit_test(
	        test_new_boot_bills_current_counters_never_negative),
	    cmocka_unit_test(test_duplicated_sample_bills_nothing),
	    cmocka_unit_test(test_lost_sample_next_delta_covers_both_intervals),
	    cmocka_unit_test(
	        test_counter_going_backwards_is_reset_not_huge_bill),
	    cmocka_unit_test(
	        test_mem_page_ns_wrap_is_billed_exactly_not_as_reset),
	    cmocka_unit_test(test_gauge_carries_current_value_not_difference),
	    cmocka_unit_test(test_stale_resent_sample_is_refused_not_rebilled),
	    cmocka_unit_test(
	        test_random_drops_and_duplicates_sum_to_final_per_boot),
	};

	return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
