/*
 * Who owned a domain when (docs/billing.md section 11): the ownership
 * table keeps every change of domains.customer with its time, so usage is
 * billed to the customer who owned the domain when it was used, and a
 * tenant sees a domain's usage only from the time it became theirs.
 *
 * Rule: a change made at wall time t takes effect at the next whole UTC
 * minute, owner_effective_s(t): usage deltas ending before it (the minute
 * of the change included) stay with the previous owner. Minutes are the
 * finest rollup (usage_1m), so the split is exact over the stored data.
 */
#ifndef BILLINGD_OWNERSHIP_H
#define BILLINGD_OWNERSHIP_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "apierr.h"

/* The unix second from which a change made at wall time since_ns counts. */
int64_t owner_effective_s(int64_t since_ns);

/*
 * Makes customer (NULL: nobody) the owner of domains.id `domain` as of
 * now_ns, inside the caller's write transaction: domains.customer and a
 * new ownership row. *changed is false (and nothing is written) when it
 * already is the owner. 0, or -1 with e: API_INVALID_FIELD for a customer
 * that does not exist, API_INTERNAL for a store failure.
 */
int owner_set(sqlite3 *db, int64_t domain, const char *customer, int64_t now_ns,
              bool *changed, struct api_err *e);

/*
 * The unix second from which `customer` has owned `domain` without a
 * break up to now (INT64_MIN when it always has: ownership older than the
 * history, or recorded from the domain's creation on). 1 found, 0 it is
 * not the owner, -1 error.
 */
int owner_since(sqlite3 *db, int64_t domain, const char *customer,
                int64_t *since_s);

/*
 * Until when (the unix second its ownership ended) a customer other than
 * `customer` last owned `domain`: 1 found, 0 no other customer ever did,
 * -1 error. Views of the domain's usage that cannot be cut at a minute
 * (the hypervisor's cumulative counters, a quota's month to date) are
 * withheld from a tenant when they reach back before it.
 */
int owner_other_until(sqlite3 *db, int64_t domain, const char *customer,
                      int64_t *until_s);

/*
 * GET /domains/{name}/owner: {"name", "owner", "since"} and, with
 * history, every change oldest first ({"customer", "since"}); "since" is
 * when a change took effect (RFC 3339), null for "from the start". *tag
 * (for the ETag) changes whenever the document does. NULL on a store
 * failure.
 */
json_t *owner_doc(sqlite3 *db, int64_t domain, const char *name, bool history,
                  int64_t *tag);

#endif
