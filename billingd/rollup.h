/*
 * Rollups (1-minute and 1-hour usage per series) and retention of raw
 * samples and deltas; rollup.c explains the rules, docs/billingd.md
 * section 5 the sizes.
 */
#ifndef BILLINGD_ROLLUP_H
#define BILLINGD_ROLLUP_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Deltas rolled up per transaction. */
#define ROLLUP_CHUNK 50000

struct rollup_result {
	uint64_t rolled;          /* deltas added into the rollups */
	uint64_t deleted_samples; /* raw samples past retention, deleted */
	bool more;                /* store_rollup_some() stopped early */
};

/* Roll up every delta not yet rolled up, then delete deltas and samples
 * older than retention_days (0: all rolled-up ones). Runs its own
 * transactions: call with none open. 0, or -1 with err. */
int store_rollup(struct store *st, uint64_t retention_days,
                 struct rollup_result *res, char *err, size_t errlen);

/* The same in at most max_chunks transactions of ROLLUP_CHUNK deltas (0:
 * no limit). When deltas are left, res->more is set and retention is not
 * applied yet: billingd's main loop calls again at once, serving the link
 * and the API in between, so a large backlog (a replay after a long
 * outage) never stalls them for longer than one chunk. */
int store_rollup_some(struct store *st, uint64_t retention_days,
                      unsigned max_chunks, struct rollup_result *res, char *err,
                      size_t errlen);

#endif
