/*
 * The meeting point of the REST pool and billingd's main loop (api.h).
 *
 * Threads: pool threads call hv_submit(), hv_lookup(), hv_link(),
 * hv_each(); everything else runs on the main loop's thread, which alone
 * touches the session and the link.
 *
 * Invariants:
 *   1. A job is in exactly one place: the incoming list (qlock), the
 *      in-flight list (main loop only), the finished quota list (main
 *      loop only), or back with its HTTP request (outcome set).
 *   2. A job with a connection is finished exactly once, and its
 *      connection is resumed right after its outcome is stored; the main
 *      loop never touches the job afterwards (the request may free it).
 *   3. Every in-flight job has a deadline, so no connection stays
 *      suspended longer than api_cmd_wait_ms (MHD does not time out
 *      suspended connections).
 *   4. The view (vlock) is a sorted copy of the session's live domains as
 *      of view_gen == session.doms_gen.
 *   5. The deadline counts from hv_submit() (queued_ns), not from the
 *      main loop's pickup: a job the main loop reaches after its deadline
 *      is finished JOB_TIMEOUT with sent == false and its command is
 *      never sent, so the client's 503 means "nothing was done". Only a
 *      job with sent == true can time out with an unknown outcome.
 */
#include <errno.h>
#include <sqlite3.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "billingd/billing.h"
#include "billingd/log.h"
#include "fs_errors.h"
#include "internal.h"

struct hv {
	const struct config *cfg;
	struct session *s;
	struct store *st; /* the main loop's */

	pthread_mutex_t qlock; /* guards incoming, stopping */
	struct job *incoming;
	bool stopping;
	int efd;

	struct job *inflight; /* main loop only */
	struct job *qdone;    /* finished quota jobs, main loop only */
	uint64_t next_tag;
	uint64_t next_eval_ns; /* quota evaluation at least once a minute */

	pthread_rwlock_t vlock; /* guards the view */
	struct wire_domain *view;
	size_t nview;
	uint64_t view_gen;
	struct link_view link;
};

static void on_resp(void *ctx, uint64_t tag, const struct wire_resp *r);
static void on_pushed(void *ctx, int64_t domain, int64_t generation,
                      int status);
static void on_closed(void *ctx);
static void quota_run(struct hv *h, uint64_t now);

struct hv *hv_new(const struct config *cfg, struct session *s, struct store *st)
{
	struct hv *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->cfg = cfg;
	h->s = s;
	h->st = st;
	h->next_tag = 1;
	h->view_gen = UINT64_MAX;
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0) {
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->qlock, NULL);
	pthread_rwlock_init(&h->vlock, NULL);
	s->hooks = (struct session_hooks){.ctx = h,
	                                  .resp = on_resp,
	                                  .pushed = on_pushed,
	                                  .closed = on_closed};
	return h;
}

int hv_fd(const struct hv *h)
{
	return h->efd;
}

/* ---- finishing --------------------------------------------------------- */

static void unlink_inflight(struct hv *h, struct job *j)
{
	for (struct job **pp = &h->inflight; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	j->next = NULL;
}

static void publish(struct hv *h);

/* Invariant 2: after the resume the job belongs to its request. The view
 * is published first, so the client's next GET sees what its command
 * did. */
static void finish(struct hv *h, struct job *j, enum job_outcome o)
{
	unlink_inflight(h, j);
	if (j->quota) {
		atomic_store_explicit(&j->outcome, (int)o,
		                      memory_order_relaxed);
		j->next = h->qdone;
		h->qdone = j;
		return;
	}
	struct MHD_Connection *conn = j->conn;
	publish(h);
	atomic_store_explicit(&j->outcome, (int)o, memory_order_release);
	MHD_resume_connection(conn);
}

static void on_resp(void *ctx, uint64_t tag, const struct wire_resp *r)
{
	struct hv *h = ctx;
	for (struct job *j = h->inflight; j; j = j->next)
		if (j->tag == tag) {
			j->status = r->status;
			if (j->kind == JOB_CREATE && !r->status)
				j->domid = r->u.created;
			finish(h, j, JOB_DONE);
			return;
		}
}

static void on_pushed(void *ctx, int64_t domain, int64_t generation, int status)
{
	struct hv *h = ctx;
	struct job *j = h->inflight, *next;
	for (; j; j = next) {
		next = j->next;
		/* A refusal of an older generation says nothing about ours:
		 * ours is pushed next. */
		if (j->kind != JOB_APPLIED || j->domain != domain ||
		    j->generation > generation)
			continue;
		j->status = status;
		finish(h, j, JOB_DONE);
	}
}

static void on_closed(void *ctx)
{
	struct hv *h = ctx;
	while (h->inflight)
		finish(h, h->inflight, JOB_NO_LINK);
}

/* ---- queueing ------------------------------------------------------------ */

void hv_submit(struct hv *h, struct job *j)
{
	j->queued_ns = link_now_ns();
	pthread_mutex_lock(&h->qlock);
	if (h->stopping) {
		pthread_mutex_unlock(&h->qlock);
		atomic_store_explicit(&j->outcome, JOB_NO_LINK,
		                      memory_order_release);
		MHD_resume_connection(j->conn);
		return;
	}
	j->next = h->incoming;
	h->incoming = j;
	pthread_mutex_unlock(&h->qlock);
	uint64_t one = 1;
	if (write(h->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		blog(LOG_WARN, "api: eventfd: %s", strerror(errno));
}

/* Was generation gen of domain pushed already (before the job came)? */
static int already_applied(struct hv *h, struct job *j)
{
	sqlite3_stmt *q;
	int rc = 0;
	if (sqlite3_prepare_v2(store_db(h->st),
	                       "SELECT applied_generation, applied_boot, "
	                       "last_status, generation FROM desired "
	                       "WHERE domain=?",
	                       -1, &q, NULL))
		return 0;
	sqlite3_bind_int64(q, 1, j->domain);
	if (sqlite3_step(q) == SQLITE_ROW &&
	    sqlite3_column_int64(q, 0) >= j->generation &&
	    (uint64_t)sqlite3_column_int64(q, 1) == h->s->boot_id)
		rc = 1;
	sqlite3_finalize(q);
	return rc;
}

/* Start one job on the link (main loop). Returns true if a desired-state
 * push is needed for it. */
static bool start(struct hv *h, struct job *j, uint64_t now)
{
	j->next = h->inflight;
	h->inflight = j;
	/* Quota jobs are made by the main loop itself (queued_ns 0). */
	j->deadline = (j->queued_ns ? j->queued_ns : now) + j->wait_ns;
	j->tag = h->next_tag++;
	if (j->deadline <= now) { /* invariant 5: cancelled, never sent */
		finish(h, j, JOB_TIMEOUT);
		return false;
	}
	if (!session_ready(h->s)) {
		finish(h, j, JOB_NO_LINK);
		return false;
	}
	if (j->kind == JOB_CREATE) {
		struct wire_cmd c = {.op = WIRE_OP_CREATE,
		                     .domid = DOMID_INVALID};
		c.u.create = j->create;
		if (session_command(h->s, &c, j->tag))
			finish(h, j, JOB_NO_LINK);
		else
			j->sent = true;
		return false;
	}
	const struct wire_domain *d = session_domain(h->s, j->name);
	if (!d) {
		finish(h, j, JOB_NO_DOMAIN);
		return false;
	}
	if (j->kind == JOB_APPLIED) {
		if (already_applied(h, j)) {
			j->status = 0;
			finish(h, j, JOB_DONE);
			return false;
		}
		return true;
	}
	static const uint16_t ops[] = {[JOB_PAUSE] = WIRE_OP_PAUSE,
	                               [JOB_UNPAUSE] = WIRE_OP_UNPAUSE,
	                               [JOB_DESTROY] = WIRE_OP_DESTROY};
	struct wire_cmd c = {.op = ops[j->kind], .domid = d->domid};
	if (session_command(h->s, &c, j->tag))
		finish(h, j, JOB_NO_LINK);
	else
		j->sent = true;
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct wire_domain *)a)->name,
	              ((const struct wire_domain *)b)->name);
}

/* Invariant 4; the link figures every time (cheap). */
static void publish(struct hv *h)
{
	struct session *s = h->s;
	struct wire_domain *nv = NULL;
	size_t n = 0;
	bool fresh = s->doms_gen != h->view_gen;
	if (fresh && s->ndoms) {
		nv = malloc(s->ndoms * sizeof(*nv));
		if (!nv)
			fresh = false; /* keep the old view; retry next time */
		for (size_t i = 0; nv && i < s->ndoms; i++)
			if (s->doms[i].domid != DOMID_INVALID)
				nv[n++] = s->doms[i];
		if (nv)
			qsort(nv, n, sizeof(*nv), by_name);
	}
	pthread_rwlock_wrlock(&h->vlock);
	if (fresh) {
		free(h->view);
		h->view = nv;
		h->nview = n;
		h->view_gen = s->doms_gen;
	}
	struct link_view *lv = &h->link;
	lv->up = session_ready(s);
	lv->boot_id = s->boot_id;
	lv->ndomains = h->nview;
	lv->records = s->records;
	lv->acks = s->acks_sent;
	lv->losses = s->losses;
	lv->rejects = link_rejects_total(&s->l->st);
	lv->commits = store_counts(h->st)->commits;
	pthread_rwlock_unlock(&h->vlock);
}

void hv_main_work(struct hv *h, uint64_t now)
{
	uint64_t v;
	while (read(h->efd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_lock(&h->qlock);
	struct job *in = h->incoming;
	h->incoming = NULL;
	pthread_mutex_unlock(&h->qlock);
	bool push = false, eval = false;
	struct job *evals = NULL;
	while (in) {
		struct job *j = in;
		in = in->next;
		if (j->kind == JOB_QUOTA_EVAL) {
			j->next = evals;
			evals = j;
			eval = true;
			continue;
		}
		push |= start(h, j, now);
	}
	/* A quota PUT: one evaluation for all of them, so the answer shows
	 * what the new limits put in force or lifted (and pushed, and the
	 * PAUSE/UNPAUSE it queued). It needs the store, not the link. */
	if (eval)
		quota_run(h, now);
	while (evals) {
		struct job *j = evals;
		evals = evals->next;
		j->next = h->inflight;
		h->inflight = j;
		j->status = 0;
		finish(h, j, JOB_DONE);
	}
	/* One push for every shares change queued since the last turn. */
	if (push && session_push_desired(h->s))
		blog(LOG_WARN, "api: pushing desired state failed");
	struct job *j = h->inflight, *next;
	for (; j; j = next) {
		next = j->next;
		if (j->deadline <= now)
			finish(h, j, JOB_TIMEOUT);
	}
	publish(h);
	/* Quota actions finished: reported outside any transaction. */
	while (h->qdone) {
		j = h->qdone;
		h->qdone = j->next;
		struct quota_action qa = {
		    .kind = j->kind == JOB_PAUSE ? QUOTA_PAUSE : QUOTA_UNPAUSE};
		snprintf(qa.name, sizeof(qa.name), "%s", j->name);
		int o = atomic_load(&j->outcome);
		int status = o == JOB_DONE        ? j->status
		             : o == JOB_NO_DOMAIN ? FS_ENOENT
		                                  : FS_EAGAIN;
		if (quota_action_done(h->st, &qa, status))
			blog(LOG_WARN, "quota: recording %s of %s failed",
			     qa.kind == QUOTA_PAUSE ? "pause" : "unpause",
			     qa.name);
		free(j);
	}
}

uint64_t hv_next_deadline(const struct hv *h)
{
	uint64_t t = UINT64_MAX;
	for (const struct job *j = h->inflight; j; j = j->next)
		if (j->deadline < t)
			t = j->deadline;
	if (h->qdone)
		t = 0;
	if (h->next_eval_ns < t)
		t = h->next_eval_ns;
	return t;
}

/* ---- quota enforcement -------------------------------------------------- */

/* Evaluate the quotas now: push throttles started or lifted, start the
 * PAUSE/UNPAUSE actions due (main loop). */
static void quota_run(struct hv *h, uint64_t now)
{
	h->next_eval_ns = now + 60 * NS_PER_S;
	struct quota_action *acts = NULL;
	size_t n = 0;
	char err[256];
	bool throttled = false;
	int rc = quota_evaluate_ex(h->st, store_wall_ns(), &acts, &n,
	                           &throttled, err, sizeof(err));
	uint64_t took = link_now_ns() - now;
	/* The main loop does nothing else meanwhile: say when it hurts. */
	blog(took > 100 * NS_PER_MS ? LOG_WARN : LOG_DEBUG,
	     "quota: evaluation took %llu ms",
	     (unsigned long long)(took / NS_PER_MS));
	if (rc) {
		blog(LOG_WARN, "quota: %s", err);
		return;
	}
	/* A throttle started or lifted changed the desired state on our own
	 * connection, which PRAGMA data_version does not report to us. */
	if (throttled && session_ready(h->s) && session_push_desired(h->s))
		blog(LOG_WARN, "quota: pushing throttled shares failed");
	for (size_t i = 0; i < n; i++) {
		struct job *j = calloc(1, sizeof(*j));
		if (!j)
			break;
		j->quota = true;
		j->kind = acts[i].kind == QUOTA_PAUSE ? JOB_PAUSE : JOB_UNPAUSE;
		snprintf(j->name, sizeof(j->name), "%s", acts[i].name);
		j->wait_ns = h->cfg->cmd_timeout_ms * NS_PER_MS;
		blog(LOG_INFO, "quota: %s %s",
		     j->kind == JOB_PAUSE ? "pausing" : "unpausing", j->name);
		start(h, j, now);
	}
	free(acts);
}

void hv_after_commit(struct hv *h, bool records)
{
	uint64_t now = link_now_ns();
	if (records) {
		pthread_rwlock_wrlock(&h->vlock);
		h->link.last_commit_unix_ns = store_wall_ns();
		pthread_rwlock_unlock(&h->vlock);
	}
	if (!records && now < h->next_eval_ns)
		return;
	quota_run(h, now);
}

/* ---- the view, for pool threads ---------------------------------------- */

bool hv_lookup(struct hv *h, const char *name, struct dom_live *out)
{
	struct wire_domain key;
	memset(out, 0, sizeof(*out));
	snprintf(key.name, sizeof(key.name), "%s", name);
	pthread_rwlock_rdlock(&h->vlock);
	const struct wire_domain *d =
	    h->link.up ? bsearch(&key, h->view, h->nview, sizeof(key), by_name)
	               : NULL;
	if (d) {
		out->live = true;
		out->d = *d;
	}
	pthread_rwlock_unlock(&h->vlock);
	return out->live;
}

void hv_link(struct hv *h, struct link_view *out)
{
	pthread_rwlock_rdlock(&h->vlock);
	*out = h->link;
	pthread_rwlock_unlock(&h->vlock);
}

void hv_each(struct hv *h, void (*fn)(void *ctx, const struct wire_domain *d),
             void *ctx)
{
	pthread_rwlock_rdlock(&h->vlock);
	for (size_t i = 0; h->link.up && i < h->nview; i++)
		fn(ctx, &h->view[i]);
	pthread_rwlock_unlock(&h->vlock);
}

/* ---- shutdown ------------------------------------------------------------ */

/* No new jobs; every queued and in-flight one answered (link gone). */
void hv_stop(struct hv *h)
{
	pthread_mutex_lock(&h->qlock);
	h->stopping = true;
	struct job *in = h->incoming;
	h->incoming = NULL;
	pthread_mutex_unlock(&h->qlock);
	while (in) {
		struct job *j = in;
		in = in->next;
		j->next = h->inflight;
		h->inflight = j;
	}
	while (h->inflight)
		finish(h, h->inflight, JOB_NO_LINK);
	while (h->qdone) {
		struct job *j = h->qdone;
		h->qdone = j->next;
		free(j);
	}
}

void hv_free(struct hv *h)
{
	if (!h)
		return;
	h->s->hooks = (struct session_hooks){0};
	close(h->efd);
	free(h->view);
	pthread_mutex_destroy(&h->qlock);
	pthread_rwlock_destroy(&h->vlock);
	free(h);
}
