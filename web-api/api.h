/*
 * billingd's REST API (issue 7, docs/api.md): what billingd's main loop
 * sees of it.
 *
 * The API runs in libmicrohttpd's own thread pool; billingd's main loop
 * stays single-threaded and keeps sole ownership of the management link.
 * They meet in two places (web-api/hv.c):
 *   - jobs: a pool thread that needs the hypervisor (pause, create, "was
 *     my shares change applied?") queues a job, suspends its HTTP
 *     connection and returns; the main loop, woken by api_fd(), sends the
 *     command, and resumes the connection when the RESP arrives, the link
 *     fails or the job's deadline passes;
 *   - the domain view: after each batch the main loop publishes a copy of
 *     the hypervisor's domain list (state, live shares) and its link
 *     health, which handlers read under a read lock.
 * Quota enforcement (billing.h's quota_evaluate()) runs its PAUSE/UNPAUSE
 * actions through the same jobs.
 */
#ifndef WEB_API_API_H
#define WEB_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "billingd/config.h"
#include "billingd/session.h"
#include "billingd/store.h"

struct api;

/* Start serving (when cfg->api_port is not 0; otherwise only the job
 * machinery for quota enforcement runs). main_st is the main loop's store,
 * s its session (whose hooks this sets). 0, or -1 with err. */
int api_start(struct api **out, const struct config *cfg, struct store *main_st,
              struct session *s, char *err, size_t errlen);
/* Fail every waiting job, stop the server, close the pool's stores. */
void api_stop(struct api *a);

/* An eventfd that becomes readable when jobs are queued. */
int api_fd(const struct api *a);
/* Main loop: take queued jobs, send their commands, expire deadlines,
 * publish the domain view when it changed. now is link_now_ns(). */
void api_main_work(struct api *a, uint64_t now);
/* The earliest job deadline (UINT64_MAX: none). */
uint64_t api_next_deadline(const struct api *a);
/* Main loop, after a batch was committed (records > 0) and once a minute:
 * run quota_evaluate() and queue its actions; report finished actions.
 * Needs no open transaction. */
void api_after_commit(struct api *a, bool records);

/* billingd --create-key: a new key printed to f once. role "admin" or
 * "tenant" (with customer). 0, or -1 with err. */
int api_create_key(struct store *st, const char *role, const char *customer,
                   char *key, size_t keylen, char *err, size_t errlen);
/* billingd --revoke-key KEY_ID. 0, or -1 with err. */
int api_revoke_key(struct store *st, const char *key_id, char *err,
                   size_t errlen);
/* billingd --list-routes: "METHOD PATH" lines of the dispatch table. */
void api_print_routes(void);

#endif
