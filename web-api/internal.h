/*
 * The REST layer's internals, shared by its files:
 *   server.c   libmicrohttpd setup, body reading, dispatch, replies
 *   problem.c  the one table: enum api_code -> HTTP status, type, title
 *   auth.c     API keys (SHA-256 at rest, constant-time compare)
 *   hv.c       jobs for the main loop and the published domain view
 *   domains.c  /domains, lifecycle, shares, owner
 *   business.c /customers, /plans, quota, usage, invoices (billing.h)
 *   status.c   /health, /metrics, /openapi.yaml
 *   params.c   query parameters, RFC 3339 times, months, JSON fields
 */
#ifndef WEB_API_INTERNAL_H
#define WEB_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/wire.h"
#include "api.h"
#include "billingd/apierr.h"
#include "billingd/store.h"

#define API_CUSTOMER_MAX 64 /* customer ids: 1..64 of [A-Za-z0-9_.-] */

/* Who is calling (auth.c). */
struct principal {
	bool admin;
	char customer[API_CUSTOMER_MAX + 1]; /* tenant's; "" for admin */
	char key_id[32];
};

/* ---- jobs (hv.c) ----------------------------------------------------- */

enum job_kind {
	JOB_PAUSE,
	JOB_UNPAUSE,
	JOB_DESTROY,
	JOB_CREATE,
	JOB_APPLIED,    /* wait for the push of (domain, generation) */
	JOB_QUOTA_EVAL, /* run the quota evaluation now (after a quota PUT) */
};

enum job_outcome {
	JOB_WAITING = 0,
	JOB_DONE,      /* the RESP arrived: see status */
	JOB_NO_LINK,   /* the link is down or not ready */
	JOB_NO_DOMAIN, /* not a live domain on the hypervisor */
	JOB_TIMEOUT,   /* deadline passed */
};

/* A job's command reached the link (`sent`) or not: a job still queued
 * when its deadline passes is cancelled, never sent, so a 503 for it means
 * "not done"; one sent and unanswered has an unknown outcome. */

/* Written by the pool thread before queueing; the result fields by the
 * main loop only, before it sets `outcome` (release) and resumes the
 * connection; read by the pool thread after it sees outcome (acquire).
 * Owned by the HTTP request (freed when it completes), or by the main
 * loop for quota jobs (conn NULL). */
struct job {
	enum job_kind kind;
	char name[WIRE_NAME_FIELD];
	struct wire_create create;
	bool set_memory_max; /* JOB_CREATE: then store the limit */
	uint64_t memory_max_mb;
	int64_t domain, generation; /* JOB_APPLIED */
	uint64_t wait_ns;           /* deadline = queued_ns + wait_ns */
	uint64_t queued_ns;         /* link_now_ns() at hv_submit() */
	struct MHD_Connection *conn;
	bool quota; /* a quota action (main loop owned) */

	/* main loop only */
	uint64_t tag, deadline;
	struct job *next;

	/* results */
	bool sent;     /* the command was handed to the link */
	int status;    /* FS_E* from the RESP (0 ok) */
	domid_t domid; /* CREATE: the new domain's id */
	_Atomic int outcome;
};

struct hv;

struct hv *hv_new(const struct config *cfg, struct session *s,
                  struct store *st);
void hv_stop(struct hv *h);
void hv_free(struct hv *h);
int hv_fd(const struct hv *h);
void hv_main_work(struct hv *h, uint64_t now);
uint64_t hv_next_deadline(const struct hv *h);
void hv_after_commit(struct hv *h, bool records);

/* Queue j (pool thread; the connection must be suspended first). */
void hv_submit(struct hv *h, struct job *j);

/* The published view of one domain (copied out under the lock). */
struct dom_live {
	bool live; /* on the hypervisor now */
	struct wire_domain d;
};
struct link_view {
	bool up; /* session ready */
	uint64_t boot_id;
	size_t ndomains;
	uint64_t records, acks, losses, rejects, commits;
	int64_t last_commit_unix_ns; /* a batch with records, 0: none */
};
/* false if link is down or the domain is not live. */
bool hv_lookup(struct hv *h, const char *name, struct dom_live *out);
void hv_link(struct hv *h, struct link_view *out);
/* Call fn for every live domain (under the read lock: fn must be quick). */
void hv_each(struct hv *h, void (*fn)(void *ctx, const struct wire_domain *d),
             void *ctx);

/* ---- the server (server.c) -------------------------------------------- */

struct api {
	const struct config *cfg;
	struct MHD_Daemon *mhd;
	struct hv *hv;
	char *openapi; /* the document, read at start */
	size_t openapi_len;
	_Atomic uint64_t req_total[32][6]; /* [route][status / 100] */
	/* No route (404, 405, refused before routing): [method][status/100],
	 * methods as api_method_label(). */
	_Atomic uint64_t req_unrouted[8][6];
	pthread_mutex_t stores_lock; /* guards stores[] */
	struct store **stores;       /* one per pool thread, for closing */
	size_t nstores;
	char tls_cert_pem[16384], tls_key_pem[16384];
};

/* One request. The reply is filled by a route, then sent by server.c. */
struct call {
	struct api *api;
	struct MHD_Connection *conn;
	const char *method, *url;
	struct store *st; /* this pool thread's connection */
	struct principal who;
	bool authed;
	int route;     /* index into the route table, -1 none */
	char arg[128]; /* the {name} or {id} path segment */
	char *body;    /* request body, NUL-terminated */
	size_t len, cap;
	bool too_large;
	struct job *job; /* a hypervisor job in flight or done */

	unsigned status; /* the reply */
	char *out;
	size_t outlen;
	const char *ctype;
	char etag[40];
	char location[160];
	bool www_auth;
	const char *allow;
	bool uri_too_long; /* over API_URI_MAX: 414 before anything else */
};

/* Request targets (path and query) longer than this are answered 414
 * problem+json by us; libmicrohttpd answers longer ones than fit in
 * api_conn_memory_kb itself, as HTML (docs/api.md "Errors"). */
#define API_URI_MAX 2048

#define ROUTE_DONE 0
#define ROUTE_SUSPENDED 1 /* a job was queued; call again on resume */

int reply_json(struct call *c, unsigned status, json_t *j); /* steals j */
int reply_text(struct call *c, unsigned status, const char *ctype, char *text,
               size_t len); /* takes malloc'd text */
int reply_err(struct call *c, enum api_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int reply_apierr(struct call *c, const struct api_err *e);
/* Suspend the connection and hand j to the main loop. */
int call_submit(struct call *c, struct job *j);

/* ---- problem.c ------------------------------------------------------- */

struct problem_kind {
	unsigned status;
	const char *slug, *title;
};
const struct problem_kind *problem_kind(enum api_code code);
/* {"type","title","status","detail"}, malloc'd. */
char *problem_json(enum api_code code, const char *detail, size_t *len);

/* ---- auth.c ---------------------------------------------------------- */

/* From the Authorization header; false if missing or not valid. */
bool auth_check(struct store *st, const char *header, struct principal *p);

/* ---- params.c -------------------------------------------------------- */

/* Reject query parameters other than the NULL-terminated allowed list, and
 * repeated ones. 0, or -1 with the reply made. */
int params_only(struct call *c, const char *const *allowed);
const char *param(struct call *c, const char *name);
/* RFC 3339 date-time to Unix seconds (fractions dropped). 0 or -1. */
int parse_rfc3339(const char *s, int64_t *unix_s);
void format_rfc3339(int64_t unix_s, char *buf, size_t len);
/* "YYYY-MM", 1970..9999. 0 or -1. */
int parse_month(const char *s);
/* Checks Content-Type (application/json, or also merge-patch for PATCH)
 * and parses the body: an object, no duplicate keys. NULL with the reply
 * made. */
json_t *body_object(struct call *c, bool merge_patch);
/* 1..max of [A-Za-z0-9_.-]. */
bool ident_valid(const char *s, size_t max);
/* The offer (media types, ours first: our preference on a tie) that the
 * Accept header rates highest with q > 0; 0 without an Accept header,
 * -1 if none is acceptable (406). */
int accept_pick(struct call *c, const char *const *offers);
/* A strong ETag ("hex", quoted) of a JSON document, canonically dumped. */
void etag_of(const json_t *j, char *out, size_t len);
/* Does the If-Match header (absent: yes) name tag? Strong comparison
 * (W/ never matches); "*" always matches. */
bool if_match_tag(struct call *c, const char *tag);

/* ---- routes ----------------------------------------------------------- */

/* Domain visible to the caller? Its domains.id, and owner (may be ""). 0,
 * or -1 with 404 (unknown and hidden look the same) or 500 made. */
int domain_visible(struct call *c, const char *name, int64_t *id, char *owner,
                   size_t ownerlen);
/* 403 for a tenant (call after domain_visible for domain routes). */
int need_admin(struct call *c);

int h_domains_list(struct call *c);
int h_domain_get(struct call *c);
int h_domain_create(struct call *c);
int h_domain_delete(struct call *c);
int h_domain_pause(struct call *c);
int h_domain_unpause(struct call *c);
int h_shares_get(struct call *c);
int h_shares_put(struct call *c);
int h_shares_patch(struct call *c);
int h_owner_get(struct call *c);
/* For a tenant: withholds a quota document's month-to-date usage when it
 * includes another customer's (docs/billing.md section 11). */
void tenant_quota_view(struct call *c, int64_t id, json_t *quota);
int h_owner_put(struct call *c);
int h_customers_list(struct call *c);
int h_customer_create(struct call *c);
int h_customer_get(struct call *c);
int h_customer_put(struct call *c);
int h_plans_get(struct call *c);
int h_plans_put(struct call *c);
int h_quota_get(struct call *c);
int h_quota_put(struct call *c);
int h_usage_get(struct call *c);
int h_invoices_get(struct call *c);
int h_health(struct call *c);
int h_metrics(struct call *c);
int h_openapi(struct call *c);

/* For /metrics: the route table's names. */
size_t routes_count(void);
const char *route_label(size_t i, const char **method);
/* The method label of req_unrouted's row i (0..7), "OTHER" for any
 * method HTTP does not define here (bounded cardinality). */
const char *api_method_label(size_t i);

#endif
