/*
 * Billing: plans, monthly quotas and their enforcement, usage queries and
 * monthly invoices, all from billingd's SQLite store (docs/billing.md has
 * the meters, units, rounding, proration, freezing and quota rules).
 *
 * The REST layer (web-api/) parses and authenticates; it hands these
 * functions parsed JSON (jansson) and gets JSON or a document back. Field
 * validation (type, range, unknown fields) happens here, reported through
 * struct api_err (apierr.h), and a refused request changes nothing.
 *
 * Every function uses the given store's connection and its own transaction
 * (call with none open), so the REST threads can each call them on their
 * own connection while the main loop ingests; quota_get(), quota_put()
 * and billing_plans_put() also run inside a transaction the caller holds.
 */
#ifndef BILLINGD_BILLING_H
#define BILLINGD_BILLING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/wire.h"
#include "apierr.h"
#include "store.h"

/* Seed the plans from config/billing.conf's format (FILE) when the store
 * has none; an existing plan table is left alone. 0, or -1 with
 * "FILE:LINE: reason" in err. */
int billing_seed_plans(struct store *st, const char *path, char *err,
                       size_t errlen);

/* GET /plans: every plan. PUT /plans: replace them (validated whole;
 * in the caller's write transaction when one is open, like quota_get()
 * and quota_put(), so the API can check If-Match in the same one). */
json_t *billing_plans_get(struct store *st, struct api_err *e);
int billing_plans_put(struct store *st, const json_t *body, struct api_err *e);

/* GET /domains/{name}/quota, PUT (validated whole; raising a limit above
 * the month's usage lifts its action at the next evaluation). NULL/-1 with
 * API_NOT_FOUND for an unknown domain. */
json_t *quota_get(struct store *st, const char *domain, struct api_err *e);
int quota_put(struct store *st, const char *domain, const json_t *body,
              struct api_err *e);

/* Quota enforcement, called by the main loop after every committed batch
 * of METERs (and once a minute, for month boundaries). It compares each
 * domain's month-to-date usage with its quota, records crossings and lifts
 * as events, applies and lifts `throttle` through the desired state (the
 * session pushes it like any desired change), and returns the domains the
 * caller must pause (suspend) or unpause (lifted) on the hypervisor. The
 * caller reports the outcome with quota_action_done(). */
enum quota_action_kind { QUOTA_PAUSE, QUOTA_UNPAUSE };
struct quota_action {
	char name[WIRE_NAME_FIELD];
	enum quota_action_kind kind;
};
int quota_evaluate(struct store *st, int64_t now_unix_ns,
                   struct quota_action **acts, size_t *nacts, char *err,
                   size_t errlen);
int quota_action_done(struct store *st, const struct quota_action *a,
                      int status);
/* quota_evaluate(), also telling whether it started or lifted a throttle:
 * the caller's own commits do not change its PRAGMA data_version, so a
 * caller on the same connection as the session must then push the
 * desired state itself (session_push_desired()). */
int quota_evaluate_ex(struct store *st, int64_t now_unix_ns,
                      struct quota_action **acts, size_t *nacts,
                      bool *desired_changed, char *err, size_t errlen);

/* GET /domains/{name}/usage: buckets of step_s (60, 3600 or 86400) from
 * from_unix_s to to_unix_s (UTC, multiples of the step are not required),
 * and exact totals over the range. */
json_t *usage_query(struct store *st, const char *domain, int64_t from_unix_s,
                    int64_t to_unix_s, int64_t step_s, struct api_err *e);
/* The same, counting only usage from visible_from_s (a whole minute) on:
 * a tenant's view of a domain it has owned since then (ownership.h); the
 * document then says "visible_from". */
json_t *usage_query_from(struct store *st, const char *domain,
                         int64_t from_unix_s, int64_t to_unix_s,
                         int64_t step_s, int64_t visible_from_s,
                         struct api_err *e);

/* GET /invoices?month=YYYY-MM[&customer=ID]. month is "YYYY-MM"; customer
 * NULL means every customer (admin). The document is JSON, or CSV when csv
 * is true; *out is malloc'd. A closed month's invoice is generated once,
 * stored and returned byte for byte ever after; the current month's is a
 * live preview. */
int billing_invoice(struct store *st, const char *month, const char *customer,
                    bool csv, char **out, size_t *len, struct api_err *e);

/* Freeze last month's invoice as soon as its data is complete, so its
 * prices are those in force when it closed rather than at the first
 * request (the main loop calls it once a minute; cheap when there is
 * nothing to do). 0, or -1 with err. */
int billing_freeze_due(struct store *st, int64_t now_unix_ns, char *err,
                       size_t errlen);

#endif
