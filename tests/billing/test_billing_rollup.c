/*
 * A rollup backlog (a replay after a long outage) done a chunk at a time,
 * as billingd's main loop does it so the link and the API are served in
 * between: each call rolls up one chunk and says more is left, retention
 * waits until the backlog is done, and the rollups come out exactly as in
 * one go.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "billingd/rollup.h"
#include "helpers.h"

#define NDOM 1000
#define NMETER 51 /* a delta each (the first from 0): a chunk and 1000 */

static void backlog_is_rolled_up_a_chunk_per_call(void **state)
{
	(void)state;
	struct tb t;
	tb_open(&t);
	int64_t t0 = tb_utc(2026, 10, 1, 0, 0, 0);
	int64_t b = tb_boot(&t, 0x42, t0 * 1000000000);
	static uint16_t ids[NDOM];
	static struct usage_counters c[NDOM];
	char name[16];
	for (unsigned i = 0; i < NDOM; i++) {
		ids[i] = (uint16_t)(i + 1);
		snprintf(name, sizeof(name), "d%u", i);
		tb_name(&t, b, ids[i], name);
	}
	uint64_t want = 0;
	for (unsigned k = 0; k < NMETER; k++) {
		for (unsigned i = 0; i < NDOM; i++)
			c[i].cpu_ns += 1000 + i;
		want += 1000ull * NDOM + NDOM * (NDOM - 1) / 2;
		for (unsigned i = 0; i < NDOM; i += 64) /* a METER's page */
			tb_meter(&t, b, (uint64_t)(k + 1) * 1000000000ull,
			         NDOM - i < 64 ? NDOM - i : 64, ids + i, c + i);
	}
	int64_t deltas = tb_int(&t, "SELECT count(*) FROM usage_delta");
	assert_int_equal(deltas, (int64_t)NDOM * NMETER);
	assert_true(deltas > ROLLUP_CHUNK);

	struct rollup_result r;
	char err[256];
	/* retention 0 would delete every rolled-up delta at the end */
	assert_int_equal(store_rollup_some(t.st, 0, 1, &r, err, sizeof(err)),
	                 0);
	assert_int_equal(r.rolled, ROLLUP_CHUNK);
	assert_true(r.more);
	assert_int_equal(tb_int(&t, "SELECT count(*) FROM usage_delta"),
	                 deltas); /* nothing deleted mid-backlog */
	assert_int_equal(tb_int(&t, "SELECT value FROM stats WHERE "
	                            "name='rollup_delta_id'"),
	                 tb_int(&t, "SELECT min(id) FROM usage_delta") +
	                     ROLLUP_CHUNK - 1);

	assert_int_equal(store_rollup_some(t.st, 0, 1, &r, err, sizeof(err)),
	                 0);
	assert_int_equal(r.rolled, deltas - ROLLUP_CHUNK);
	assert_false(r.more);
	assert_int_equal(tb_int(&t, "SELECT count(*) FROM usage_delta"), 0);
	assert_int_equal(tb_int(&t, "SELECT sum(cpu_ns) FROM usage_1m"),
	                 (int64_t)want);
	assert_int_equal(tb_int(&t, "SELECT sum(cpu_ns) FROM usage_1h"),
	                 (int64_t)want);
	assert_int_equal(tb_int(&t, "SELECT sum(n) FROM usage_1m"), deltas);
	tb_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(backlog_is_rolled_up_a_chunk_per_call),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
