/*
 * Rollups (1-minute and 1-hour usage per series) and retention of raw
 * samples and deltas; rollup.c explains the rules, docs/billingd.md
 * section 5 the sizes.
 */
#ifndef BILLINGD_ROLLUP_H
#define BILLINGD_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct rollup_result {
	uint64_t rolled;          /* deltas added into the rollups */
	uint64_t deleted_samples; /* raw samples past retention, deleted */
};

/* Roll up every delta not yet rolled up, then delete deltas and samples
 * older than retention_days (0: all rolled-up ones). Runs its own
 * transactions: call with none open. 0, or -1 with err. */
int store_rollup(struct store *st, uint64_t retention_days,
                 struct rollup_result *res, char *err, size_t errlen);

#endif
