/*
 * The sched/ API contract, call by call: exact charging, wake rules, the
 * allowance, warp and cap mechanics, live parameter changes, validation.
 * (Behaviour over whole scenarios is in test_bvt_sim.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fs_errors.h"
#include "sched/sched.h"

#define N 8
#define MS NS_PER_MS
#define US NS_PER_US

struct fixture {
	struct sched s;
	uint64_t mem[(N * 80) / 8];
	struct sched_entity e[N];
};

static struct fixture fx;

static void setup(uint64_t ctx_allow_us)
{
	struct sched_config cfg = { .ctx_allow_us = ctx_allow_us };
	assert_true(sched_mem_size(N) <= sizeof(fx.mem));
	assert_int_equal(sched_init(&fx.s, &cfg, fx.mem, sizeof(fx.mem), N, 0),
	                 FS_OK);
}

static void add(int i, uint32_t weight)
{
	struct sched_params p;
	sched_params_default(&p);
	p.cpu_weight = weight;
	assert_int_equal(sched_add(&fx.s, &fx.e[i], (domid_t)(i + 1), &p, 0),
	                 FS_OK);
}

static struct sched_entity *pick(uint64_t now, uint64_t *slice)
{
	uint64_t dummy;
	struct sched_entity *e = sched_pick(&fx.s, now, slice ? slice : &dummy);
	assert_null(sched_check(&fx.s));
	return e;
}

/* Run to `end`, deciding at every slice expiry as the hypervisor does. */
static struct sched_entity *run_until(uint64_t *now, uint64_t *slice,
                                      uint64_t end)
{
	struct sched_entity *cur = sched_current(&fx.s);
	while (*now < end) {
		uint64_t t = *slice == SCHED_SLICE_INF || *slice > end - *now
		                     ? end - *now
		                     : *slice;
		*now += t;
		cur = pick(*now, slice);
	}
	return cur;
}

static void add_capped(int i, uint32_t weight, uint32_t cap)
{
	add(i, weight);
	struct sched_params p = fx.e[i].p;
	p.cpu_cap_pct = cap;
	assert_int_equal(sched_set_params(&fx.s, &fx.e[i], &p, 0), FS_OK);
}

/* Two busy domains, one capped at 10%, run until the capped one has just
 * been released from its cap and waits below SVT. */
static uint64_t lagging_released_domain(uint64_t *slice)
{
	setup(2000);
	add_capped(0, 256, 10);
	add(1, 256);
	sched_wake(&fx.s, &fx.e[0], 0);
	sched_wake(&fx.s, &fx.e[1], 0);
	uint64_t now = 0;
	pick(0, slice);
	run_until(&now, slice, 50 * MS);
	while (!(fx.e[0].state == SCHED_READY &&
	         (int64_t)(sched_svt(&fx.s) - fx.e[0].avt) > 0))
		run_until(&now, slice, now + 1000);
	return now;
}

static void test_raising_weight_of_a_lagging_domain_banks_no_credit(void **st)
{
	(void)st;
	uint64_t slice, now = lagging_released_domain(&slice);
	struct sched_params p = fx.e[0].p;
	p.cpu_weight = 65535;
	p.cpu_cap_pct = 0;
	/* it may lag at most one allowance in its new, much smaller,
	 * virtual time; before the fix this panicked in sched_check() */
	assert_int_equal(sched_set_params(&fx.s, &fx.e[0], &p, now), FS_OK);
	uint64_t allow = (2000 * US << SCHED_VT_SCALE_SHIFT) / 65535;
	assert_true((int64_t)(fx.e[0].avt - (sched_svt(&fx.s) - allow)) >= 0);
	assert_null(sched_check(&fx.s));
	/* and from here on it gets 65535/65791 of the CPU, no more */
	uint64_t t0 = now;
	struct sched_counters c0, c1;
	sched_counters(&fx.s, &fx.e[0], now, &c0);
	pick(now, &slice);
	run_until(&now, &slice, now + 2000 * MS);
	sched_counters(&fx.s, &fx.e[0], now, &c1);
	double share = (double)(c1.cpu_ns - c0.cpu_ns) / (double)(now - t0);
	assert_true(share <= 65535.0 / 65791 + 0.005);
}

static void test_lowering_ctx_allow_reclamps_every_domain(void **st)
{
	(void)st;
	uint64_t slice, now = lagging_released_domain(&slice);
	struct sched_config cfg = { .ctx_allow_us = 100 };
	assert_int_equal(sched_set_config(&fx.s, &cfg, now), FS_OK);
	uint64_t allow = (100 * US << SCHED_VT_SCALE_SHIFT) / 256;
	assert_true((int64_t)(fx.e[0].avt - (sched_svt(&fx.s) - allow)) >= 0);
	assert_null(sched_check(&fx.s));
}

static void test_capped_domain_waking_with_few_tokens_waits_for_half_a_period(void **st)
{
	(void)st;
	setup(2000);
	add_capped(0, 256, 20);
	sched_wake(&fx.s, &fx.e[0], 0);
	uint64_t slice;
	pick(0, &slice); /* 2.5 ms until the bucket is empty */
	uint64_t now = slice - 1;
	sched_block(&fx.s, &fx.e[0], now); /* 1 ns of tokens left */
	pick(now, &slice);
	sched_wake(&fx.s, &fx.e[0], now + 1);
	/* not a nanosecond sliver: held back until half a period's worth
	 * (1 ms of CPU at 20%) has refilled */
	assert_int_equal(fx.e[0].state, SCHED_THROTTLED);
	assert_null(pick(now + 1, &slice));
	assert_true(slice >= 4 * MS);
	now += 1 + slice;
	assert_ptr_equal(pick(now, &slice), &fx.e[0]);
	assert_true(slice >= 1000 * US);
}

static void test_sleeper_is_clamped_after_a_lone_guest_ran_for_428_days(void **st)
{
	(void)st;
	setup(2000);
	add(0, 1); /* weight 1: virtual time runs 256x faster than real */
	add(1, 256);
	sched_wake(&fx.s, &fx.e[0], 0);
	uint64_t slice;
	assert_ptr_equal(pick(0, &slice), &fx.e[0]);
	assert_int_equal(slice, SCHED_SLICE_INF); /* alone: no timer */
	/* 3.7e16 ns moves A by 9.5e18 > 2^63: no comparison may wrap */
	uint64_t now = 37000000000000000ull;
	sched_wake(&fx.s, &fx.e[1], now);
	assert_true(fx.e[1].avt == sched_svt(&fx.s));
	struct sched_entity *cur = pick(now, &slice);
	assert_true(slice <= 4 * MS + 2 || cur == &fx.e[1]);
	assert_null(sched_check(&fx.s));
}

static void test_preempt_claim_is_dropped_when_the_waker_blocks_first(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	add(1, 256);
	add(2, 256);
	struct sched_params p = fx.e[1].p;
	p.warp_us = 10000;
	sched_set_params(&fx.s, &fx.e[1], &p, 0);
	sched_wake(&fx.s, &fx.e[0], 0);
	assert_ptr_equal(pick(0, NULL), &fx.e[0]);
	assert_true(sched_wake(&fx.s, &fx.e[1], 10 * US)); /* claims */
	sched_block(&fx.s, &fx.e[1], 10 * US);              /* and leaves */
	sched_wake(&fx.s, &fx.e[2], 10 * US); /* unwarped: ties at best */
	/* the allowance protects the runner again: no switch */
	assert_ptr_equal(pick(10 * US, NULL), &fx.e[0]);
}

static void test_charging_is_exact_with_no_rounding_loss(void **st)
{
	(void)st;
	setup(2000);
	add(0, 3); /* 256/3 virtual ns per ns: a remainder every charge */
	sched_wake(&fx.s, &fx.e[0], 0);
	uint64_t now = 0, avt0 = fx.e[0].avt;
	assert_ptr_equal(pick(0, NULL), &fx.e[0]);
	for (int i = 1; i <= 10000; i++) {
		now += (uint64_t)(i % 7) + 1; /* odd-sized charges */
		sched_charge(&fx.s, now);
	}
	struct sched_counters c;
	sched_counters(&fx.s, &fx.e[0], now, &c);
	assert_int_equal(c.cpu_ns, now);
	/* A advanced by exactly floor(total * 256 / 3) */
	assert_int_equal(fx.e[0].avt - avt0, now * 256 / 3);
	assert_int_equal(fx.s.busy_ns + sched_idle_ns(&fx.s), now);
}

static void test_idle_cpu_is_charged_to_idle_and_needs_no_timer(void **st)
{
	(void)st;
	setup(2000);
	uint64_t slice;
	assert_null(pick(5 * MS, &slice));
	assert_int_equal(slice, SCHED_SLICE_INF);
	assert_int_equal(sched_idle_ns(&fx.s), 5 * MS);
}

static void test_two_equal_domains_alternate_every_allowance(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	add(1, 256);
	sched_wake(&fx.s, &fx.e[0], 0);
	sched_wake(&fx.s, &fx.e[1], 0);
	uint64_t slice, now = 0;
	struct sched_entity *first = pick(now, &slice);
	/* equal E: the first runs one allowance past the other, plus the
	 * one virtual ns that makes "more than C" strict */
	assert_int_equal(slice, 2 * MS + 1);
	/* from then on each runs until it is C ahead of the other, which
	 * started C (+1) ahead: 2C (+2) per turn */
	for (int k = 0; k < 10; k++) {
		now += slice;
		struct sched_entity *next = pick(now, &slice);
		assert_ptr_not_equal(next, first);
		first = next;
		assert_int_equal(slice, 4 * MS + 2);
	}
}

static void test_yield_hands_over_only_when_the_other_is_not_behind(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	add(1, 256);
	sched_wake(&fx.s, &fx.e[0], 0);
	sched_wake(&fx.s, &fx.e[1], 0);
	uint64_t slice, now = 0;
	struct sched_entity *a = pick(now, &slice);
	struct sched_entity *b = a == &fx.e[0] ? &fx.e[1] : &fx.e[0];
	/* a yields at once: E equal, the tie goes to the waiting one */
	sched_yield_slice(&fx.s, a, now);
	assert_ptr_equal(pick(now, &slice), b);
	/* b runs 1 ms and yields: a is now behind it and takes over */
	now += 1 * MS;
	sched_yield_slice(&fx.s, b, now);
	assert_ptr_equal(pick(now, &slice), a);
	/* a runs 3 ms (2 ms ahead of b) and yields: b takes over */
	now += 3 * MS;
	sched_yield_slice(&fx.s, a, now);
	assert_ptr_equal(pick(now, &slice), b);
	/* b, 2 ms behind, yields at once: it is still strictly first, so it
	 * keeps the CPU, and a yield earns it nothing */
	sched_yield_slice(&fx.s, b, now);
	assert_ptr_equal(pick(now, &slice), b);
	assert_int_equal(slice, 4 * MS + 1);
	/* a waiter that yields is a no-op */
	sched_yield_slice(&fx.s, a, now);
	assert_ptr_equal(pick(now, &slice), b);
}

static void test_sleeper_banks_no_credit(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	add(1, 256);
	sched_wake(&fx.s, &fx.e[0], 0);
	assert_ptr_equal(pick(0, NULL), &fx.e[0]);
	/* e0 runs alone for a second while e1 sleeps */
	uint64_t now = 1000 * MS;
	assert_false(sched_wake(&fx.s, &fx.e[1], now));
	assert_true(fx.e[1].avt >= sched_svt(&fx.s));
	/* from now on they share: e1 must not get the whole next second */
	uint64_t slice;
	struct sched_entity *cur = pick(now, &slice);
	uint64_t end = now + 1000 * MS;
	while (now < end) {
		uint64_t t = slice < end - now ? slice : end - now;
		now += t;
		cur = pick(now, &slice);
	}
	(void)cur;
	struct sched_counters c1;
	sched_counters(&fx.s, &fx.e[1], now, &c1);
	assert_true(c1.cpu_ns >= 495 * MS && c1.cpu_ns <= 505 * MS);
}

static void test_unwarped_waker_waits_warped_waker_preempts_at_once(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	add(1, 256);
	add(2, 256);
	struct sched_params p;
	sched_params_default(&p);
	p.warp_us = 10000;
	p.warp_limit_us = 1000;
	p.unwarp_us = 5000;
	assert_int_equal(sched_set_params(&fx.s, &fx.e[2], &p, 0), FS_OK);
	sched_wake(&fx.s, &fx.e[0], 0);
	assert_ptr_equal(pick(0, NULL), &fx.e[0]);
	/* e1 wakes 100 us in: ties at SVT at best, so it does not preempt */
	assert_false(sched_wake(&fx.s, &fx.e[1], 100 * US));
	assert_ptr_equal(pick(100 * US, NULL), &fx.e[0]);
	/* e2 wakes warped: strictly first in E order, preempts without C */
	assert_true(sched_wake(&fx.s, &fx.e[2], 200 * US));
	uint64_t slice;
	assert_ptr_equal(pick(200 * US, &slice), &fx.e[2]);
	/* and its slice ends no later than its warp limit */
	assert_true(slice <= 1000 * US);
	/* after L of warped CPU it unwarps and cannot warp again for U */
	uint64_t now = 200 * US + slice;
	pick(now, NULL);
	struct sched_counters c;
	sched_counters(&fx.s, &fx.e[2], now, &c);
	assert_int_equal(c.warped_ns, 1000 * US);
	assert_false(fx.e[2].warped);
	sched_block(&fx.s, &fx.e[2], now);
	pick(now, NULL);
	sched_wake(&fx.s, &fx.e[2], now + 1 * MS); /* before U has passed */
	assert_false(fx.e[2].warped);
	sched_block(&fx.s, &fx.e[2], now + 1 * MS);
	pick(now + 1 * MS, NULL);
	sched_wake(&fx.s, &fx.e[2], now + 5 * MS); /* U has passed */
	assert_true(fx.e[2].warped);
}

static void test_cap_throttles_and_releases_exactly(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	struct sched_params p;
	sched_params_default(&p);
	p.cpu_cap_pct = 20;
	assert_int_equal(sched_set_params(&fx.s, &fx.e[0], &p, 0), FS_OK);
	sched_wake(&fx.s, &fx.e[0], 0);
	uint64_t slice, now = 0;
	assert_ptr_equal(pick(now, &slice), &fx.e[0]);
	/* full bucket: 20% of 10 ms = 2 ms, drained at 80% net => 2.5 ms */
	assert_int_equal(slice, 2500 * US);
	now += slice;
	assert_null(pick(now, &slice)); /* throttled: the CPU idles */
	assert_int_equal(fx.e[0].state, SCHED_THROTTLED);
	/* released when half a period's worth (1 ms) has refilled at 20% */
	assert_int_equal(slice, 5 * MS);
	now += slice;
	assert_ptr_equal(pick(now, &slice), &fx.e[0]);
	struct sched_counters c;
	sched_counters(&fx.s, &fx.e[0], now, &c);
	assert_int_equal(c.cap_throttled_ns, 5 * MS);
}

static void test_lifting_a_cap_live_releases_a_throttled_domain(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	struct sched_params p;
	sched_params_default(&p);
	p.cpu_cap_pct = 10;
	sched_set_params(&fx.s, &fx.e[0], &p, 0);
	sched_wake(&fx.s, &fx.e[0], 0);
	uint64_t slice;
	pick(0, &slice);
	assert_null(pick(slice, NULL));
	p.cpu_cap_pct = 0;
	assert_int_equal(sched_set_params(&fx.s, &fx.e[0], &p, slice + 1),
	                 FS_OK);
	assert_ptr_equal(pick(slice + 1, &slice), &fx.e[0]);
	assert_int_equal(slice, SCHED_SLICE_INF);
}

static void test_weight_change_takes_effect_live(void **st)
{
	(void)st;
	setup(1000);
	add(0, 256);
	add(1, 256);
	sched_wake(&fx.s, &fx.e[0], 0);
	sched_wake(&fx.s, &fx.e[1], 0);
	uint64_t slice, now = 0;
	pick(now, &slice);
	struct sched_params p;
	sched_params_default(&p);
	p.cpu_weight = 768; /* e0 now deserves 75% */
	sched_set_params(&fx.s, &fx.e[0], &p, now);
	pick(now, &slice);
	uint64_t end = 4000 * MS;
	while (now < end) {
		now += slice < end - now ? slice : end - now;
		pick(now, &slice);
	}
	struct sched_counters c0;
	sched_counters(&fx.s, &fx.e[0], now, &c0);
	assert_true(c0.cpu_ns >= 2980 * MS && c0.cpu_ns <= 3020 * MS);
}

static void test_bad_parameters_are_refused_and_change_nothing(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	struct sched_params p;
	sched_params_default(&p);
	struct sched_entity before = fx.e[0];
	p.cpu_weight = 0;
	p.cpu_cap_pct = 50;
	p.warp_us = 1000;
	assert_int_equal(sched_set_params(&fx.s, &fx.e[0], &p, 0), FS_ERANGE);
	assert_memory_equal(&before, &fx.e[0], sizeof(before));
	p.cpu_weight = 65536;
	assert_int_equal(sched_params_check(&p), FS_ERANGE);
	p.cpu_weight = 256;
	p.cpu_cap_pct = 101;
	assert_int_equal(sched_params_check(&p), FS_ERANGE);
	p.cpu_cap_pct = 0;
	p.warp_us = SCHED_TIME_PARAM_MAX_US + 1;
	assert_int_equal(sched_params_check(&p), FS_ERANGE);
	assert_int_equal(fx.e[0].p.cpu_weight, 256);
	struct sched_config cfg = { .ctx_allow_us =
		                            SCHED_TIME_PARAM_MAX_US + 1 };
	assert_int_equal(sched_set_config(&fx.s, &cfg, 0), FS_ERANGE);
	assert_int_equal(fx.s.cfg.ctx_allow_us, 2000);
}

static void test_too_small_memory_is_refused(void **st)
{
	(void)st;
	struct sched_config cfg = { .ctx_allow_us = 2000 };
	assert_int_equal(sched_init(&fx.s, &cfg, fx.mem, sched_mem_size(N) - 1,
	                            N, 0),
	                 FS_EINVAL);
	assert_int_equal(sched_init(&fx.s, &cfg, (char *)fx.mem + 4,
	                            sizeof(fx.mem) - 4, 1, 0),
	                 FS_EINVAL);
}

static void test_entity_pool_full_is_an_error_not_a_crash(void **st)
{
	(void)st;
	setup(2000);
	for (int i = 0; i < N; i++)
		add(i, 256);
	struct sched_entity extra;
	struct sched_params p;
	sched_params_default(&p);
	assert_int_equal(sched_add(&fx.s, &extra, 99, &p, 0), FS_ENOMEM);
	/* a removed domain's slot is reused */
	sched_remove(&fx.s, &fx.e[3], 0);
	assert_int_equal(sched_add(&fx.s, &extra, 99, &p, 0), FS_OK);
	assert_null(sched_check(&fx.s));
}

static void test_removing_the_running_domain_idles_the_cpu(void **st)
{
	(void)st;
	setup(2000);
	add(0, 256);
	sched_wake(&fx.s, &fx.e[0], 0);
	assert_ptr_equal(pick(0, NULL), &fx.e[0]);
	sched_remove(&fx.s, &fx.e[0], 3 * MS);
	assert_null(pick(3 * MS, NULL));
	struct sched_counters c;
	sched_counters(&fx.s, &fx.e[0], 3 * MS, &c);
	assert_int_equal(c.cpu_ns, 3 * MS);
}

static void test_check_catches_a_corrupted_heap(void **st)
{
	(void)st;
	setup(2000);
	for (int i = 0; i < 4; i++)
		add(i, 256);
	for (int i = 0; i < 4; i++)
		sched_wake(&fx.s, &fx.e[i], (uint64_t)i);
	assert_null(sched_check(&fx.s));
	/* swap the first two slots, keeping keys and positions coherent:
	 * only the heap order is wrong (equal keys, FIFO sequence broken) */
	struct sched_slot t = fx.s.heap[0][0];
	fx.s.heap[0][0] = fx.s.heap[0][1];
	fx.s.heap[0][1] = t;
	fx.s.pos[0][fx.s.heap[0][0].h] = 0;
	fx.s.pos[0][fx.s.heap[0][1].h] = 1;
	assert_string_equal(sched_check(&fx.s), "heap order broken");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_charging_is_exact_with_no_rounding_loss),
		cmocka_unit_test(test_yield_hands_over_only_when_the_other_is_not_behind),
		cmocka_unit_test(test_raising_weight_of_a_lagging_domain_banks_no_credit),
		cmocka_unit_test(test_lowering_ctx_allow_reclamps_every_domain),
		cmocka_unit_test(test_capped_domain_waking_with_few_tokens_waits_for_half_a_period),
		cmocka_unit_test(test_sleeper_is_clamped_after_a_lone_guest_ran_for_428_days),
		cmocka_unit_test(test_preempt_claim_is_dropped_when_the_waker_blocks_first),
		cmocka_unit_test(test_idle_cpu_is_charged_to_idle_and_needs_no_timer),
		cmocka_unit_test(test_two_equal_domains_alternate_every_allowance),
		cmocka_unit_test(test_sleeper_banks_no_credit),
		cmocka_unit_test(test_unwarped_waker_waits_warped_waker_preempts_at_once),
		cmocka_unit_test(test_cap_throttles_and_releases_exactly),
		cmocka_unit_test(test_lifting_a_cap_live_releases_a_throttled_domain),
		cmocka_unit_test(test_weight_change_takes_effect_live),
		cmocka_unit_test(test_bad_parameters_are_refused_and_change_nothing),
		cmocka_unit_test(test_too_small_memory_is_refused),
		cmocka_unit_test(test_entity_pool_full_is_an_error_not_a_crash),
		cmocka_unit_test(test_removing_the_running_domain_idles_the_cpu),
		cmocka_unit_test(test_check_catches_a_corrupted_heap),
	};
	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
