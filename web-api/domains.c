/*
 * /v1/domains: list, one domain, create, destroy, pause, unpause, shares
 * (desired state with ETag / If-Match) and owner. Commands for the
 * hypervisor go through jobs (hv.c): a handler runs twice, before the job
 * (validate, queue, suspend) and after it (c->job set: answer).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billingd/billing.h"
#include "billingd/desired.h"
#include "billingd/log.h"
#include "billingd/ownership.h"
#include "fs_errors.h"
#include "internal.h"
#include "tools/link/kv.h"
#include "tools/link/link.h"

/* The shares of the API: kv keys 0..API_NSHARES-1 (cpu_weight ..
 * memory_max_mb); the memory growth keys stay with billingd --set. */
#define API_NSHARES (KV_MEMORY_MAX_MB + 1)

int need_admin(struct call *c)
{
	if (c->who.admin)
		return 0;
	reply_err(c, API_FORBIDDEN, "a tenant key cannot change anything");
	return -1;
}

int domain_visible(struct call *c, const char *name, int64_t *id, char *owner,
                   size_t ownerlen)
{
	sqlite3_stmt *q;
	if (!wire_name_valid(name))
		goto hidden;
	if (sqlite3_prepare_v2(store_db(c->st),
	                       "SELECT id, customer FROM domains WHERE name=?",
	                       -1, &q, NULL)) {
		reply_err(c, API_INTERNAL, "%s",
		          sqlite3_errmsg(store_db(c->st)));
		return -1;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	bool found = sqlite3_step(q) == SQLITE_ROW;
	const char *cust = found ? (const char *)sqlite3_column_text(q, 1) : 0;
	if (found && !c->who.admin && (!cust || strcmp(cust, c->who.customer)))
		found = false; /* another customer's: as if absent */
	if (found) {
		*id = sqlite3_column_int64(q, 0);
		if (owner)
			snprintf(owner, ownerlen, "%s", cust ? cust : "");
	}
	sqlite3_finalize(q);
	if (found)
		return 0;
hidden:
	reply_err(c, API_NOT_FOUND, "no domain '%.64s'", name);
	return -1;
}

/* ---- reading a domain ---------------------------------------------------- */

/* One row per domain: desired state and the newest METER's counters. */
#define DOMAIN_SQL                                                             \
	"SELECT d.id, d.name, d.customer, s.generation, "                      \
	"s.applied_generation, s.applied_boot, s.last_status, "                \
	"s.cpu_weight, s.cpu_cap_pct, s.warp_us, s.warp_limit_us, "            \
	"s.unwarp_us, s.io_bps, s.io_iops, s.io_burst_bytes, "                 \
	"s.io_burst_ops, s.memory_max_mb, b.boot_id, bd.last_mono_ns, "        \
	"b.wall_offset_ns, bd.cpu_ns, bd.ready_ns, bd.cap_throttled_ns, "      \
	"bd.warped_ns, bd.dispatches, bd.wakeups, bd.hypercalls, "             \
	"bd.blk_read_ops, bd.blk_write_ops, bd.blk_read_bytes, "               \
	"bd.blk_write_bytes, bd.blk_throttled_ns, bd.mem_pages, "              \
	"bd.mem_page_ns, bd.first_mono_ns FROM domains d "                     \
	"LEFT JOIN desired s ON s.domain = d.id "                              \
	"LEFT JOIN boot_domains bd ON bd.domain = d.id AND bd.boot = "         \
	"(SELECT max(boot) FROM boot_domains x WHERE x.domain = d.id AND "     \
	"x.last_mono_ns IS NOT NULL) "                                         \
	"LEFT JOIN boots b ON b.id = bd.boot "
#define COL_DESIRED 7
#define COL_BOOT 17
#define COL_COUNTERS 20
#define COL_FIRST 34

static const char *const counter_names[] = {
    "cpu_ns",        "ready_ns",       "cap_throttled_ns", "warped_ns",
    "dispatches",    "wakeups",        "hypercalls",       "blk_read_ops",
    "blk_write_ops", "blk_read_bytes", "blk_write_bytes",  "blk_throttled_ns",
    "mem_pages",     "mem_page_ns"};

static const char *state_name(const struct dom_live *l, bool link_up)
{
	static const char *const n[] = {"unknown", "created", "running",
	                                "paused",  "exited",  "crashed",
	                                "dying"};
	if (!link_up)
		return "unknown"; /* the link is down: we cannot tell */
	if (!l->live)
		return "absent";
	return l->d.state <= WIRE_DOM_STATE_MAX ? n[l->d.state] : "unknown";
}

struct desired_info {
	struct kv_params p; /* managed keys */
	int64_t generation;
	const char *state; /* unmanaged, applied, pending, refused */
};

static void desired_from_row(sqlite3_stmt *q, uint64_t boot_id,
                             struct desired_info *di)
{
	memset(di, 0, sizeof(*di));
	for (unsigned k = 0; k < API_NSHARES; k++)
		if (sqlite3_column_type(q, COL_DESIRED + (int)k) !=
		    SQLITE_NULL) {
			di->p.v[k] = (uint64_t)sqlite3_column_int64(
			    q, COL_DESIRED + (int)k);
			di->p.set |= 1u << k;
		}
	di->generation = sqlite3_column_int64(q, 3);
	if (!di->p.set)
		di->state = "unmanaged";
	else if (sqlite3_column_int64(q, 4) == di->generation &&
	         (uint64_t)sqlite3_column_int64(q, 5) == boot_id)
		di->state = "applied";
	else if (sqlite3_column_type(q, 6) != SQLITE_NULL &&
	         sqlite3_column_int(q, 6) != 0)
		di->state = "refused";
	else
		di->state = "pending";
}

/* Each share: the desired value if managed, else the hypervisor's. */
static json_t *shares_json(const struct kv_params *want,
                           const struct dom_live *l)
{
	struct kv_params live = {0};
	if (l->live)
		kv_from_domain(&l->d, &live);
	json_t *o = json_object();
	for (unsigned k = 0; k < API_NSHARES; k++) {
		json_t *v = json_null();
		if (want->set & (1u << k))
			v = json_integer((json_int_t)want->v[k]);
		else if (live.set & (1u << k))
			v = json_integer((json_int_t)live.v[k]);
		json_object_set_new(o, kv_name(k), v);
	}
	return o;
}

static json_t *managed_json(const struct kv_params *p)
{
	json_t *a = json_array();
	for (unsigned k = 0; k < API_NSHARES; k++)
		if (p->set & (1u << k))
			json_array_append_new(a, json_string(kv_name(k)));
	return a;
}

static json_t *counters_json(sqlite3_stmt *q)
{
	if (sqlite3_column_type(q, COL_BOOT + 1) == SQLITE_NULL)
		return json_null();
	int64_t wall_ns = sqlite3_column_int64(q, COL_BOOT + 2) +
	                  sqlite3_column_int64(q, COL_BOOT + 1);
	char at[40];
	format_rfc3339(wall_ns / 1000000000, at, sizeof(at));
	char boot[20];
	snprintf(boot, sizeof(boot), "%016llx",
	         (unsigned long long)sqlite3_column_int64(q, COL_BOOT));
	json_t *o = json_pack("{s:s, s:s}", "at", at, "boot_id", boot);
	for (int i = 0; i < 14; i++)
		json_object_set_new(
		    o, counter_names[i],
		    json_integer(sqlite3_column_int64(q, COL_COUNTERS + i)));
	return o;
}

/* Until when another customer last owned domain id, for a tenant's
 * view (ownership.h); INT64_MIN when nobody else did, or for an admin. */
static int64_t other_until(struct call *c, int64_t id)
{
	int64_t until;
	if (c->who.admin || owner_other_until(store_db(c->st), id,
	                                      c->who.customer, &until) != 1)
		return INT64_MIN;
	return until;
}

/* Withholds the quota's month to date if another customer owned the
 * domain this month (until: other_until()). */
static void quota_withhold(json_t *quota, int64_t until)
{
	time_t now = (time_t)(store_wall_ns() / 1000000000); /* quota's clock */
	struct tm tm;
	gmtime_r(&now, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (quota && until > (int64_t)timegm(&tm)) {
		json_object_set_new(quota, "usage", json_null());
		json_object_set_new(
		    quota, "usage_withheld",
		    json_string("this month's usage includes a previous "
		                "owner's; GET .../usage counts from your "
		                "ownership on"));
	}
}

void tenant_quota_view(struct call *c, int64_t id, json_t *quota)
{
	quota_withhold(quota, other_until(c, id));
}

static json_t *domain_json(struct call *c, sqlite3_stmt *q, bool full)
{
	const char *name = (const char *)sqlite3_column_text(q, 1);
	const char *owner = (const char *)sqlite3_column_text(q, 2);
	struct link_view lv;
	struct dom_live l;
	hv_link(c->api->hv, &lv);
	hv_lookup(c->api->hv, name, &l);
	struct desired_info di;
	desired_from_row(q, lv.boot_id, &di);
	json_t *o = json_pack(
	    "{s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:I, s:s, s:o}", "name", name,
	    "owner", owner ? json_string(owner) : json_null(), "state",
	    state_name(&l, lv.up), "domid",
	    l.live ? json_integer(l.d.domid) : json_null(), "memory_mb",
	    l.live ? json_integer((json_int_t)l.d.memory_mb) : json_null(),
	    "shares", shares_json(&di.p, &l), "managed", managed_json(&di.p),
	    "generation", (json_int_t)di.generation, "shares_state", di.state,
	    "counters", counters_json(q));
	/* A tenant does not see counters that include another customer's
	 * usage: they run from the domain's creation in this boot. */
	int64_t first_s = (sqlite3_column_int64(q, COL_FIRST) +
	                   sqlite3_column_int64(q, COL_BOOT + 2)) /
	                  1000000000;
	int64_t until = other_until(c, sqlite3_column_int64(q, 0));
	if (o && sqlite3_column_type(q, COL_FIRST) != SQLITE_NULL &&
	    until > first_s - 60) {
		json_object_set_new(o, "counters", json_null());
		json_object_set_new(
		    o, "counters_withheld",
		    json_string("this boot's counters include a previous "
		                "owner's usage; GET .../usage counts from your "
		                "ownership on"));
	}
	/* The hypervisor's own values (read back after every push). */
	struct kv_params none = {0};
	json_object_set_new(o, "live",
	                    l.live ? shares_json(&none, &l) : json_null());
	if (o && full) {
		struct api_err e = {0};
		json_t *qj = quota_get(c->st, name, &e);
		quota_withhold(qj, until);
		json_object_set_new(o, "quota", qj ? qj : json_null());
	}
	return o;
}

int h_domains_list(struct call *c)
{
	sqlite3_stmt *q;
	const char *sql = c->who.admin ? DOMAIN_SQL "ORDER BY d.name"
	                               : DOMAIN_SQL
	                      "WHERE d.customer=? ORDER BY d.name";
	if (sqlite3_prepare_v2(store_db(c->st), sql, -1, &q, NULL))
		return reply_err(c, API_INTERNAL, "%s",
		                 sqlite3_errmsg(store_db(c->st)));
	if (!c->who.admin)
		sqlite3_bind_text(q, 1, c->who.customer, -1, SQLITE_STATIC);
	json_t *a = json_array();
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(a, domain_json(c, q, false));
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return reply_err(c, API_INTERNAL, "listing domains failed");
	}
	return reply_json(c, 200, json_pack("{s:o}", "domains", a));
}

int h_domain_get(struct call *c)
{
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0))
		return ROUTE_DONE;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(store_db(c->st), DOMAIN_SQL "WHERE d.id=?", -1,
	                       &q, NULL))
		return reply_err(c, API_INTERNAL, "%s",
		                 sqlite3_errmsg(store_db(c->st)));
	sqlite3_bind_int64(q, 1, id);
	json_t *o =
	    sqlite3_step(q) == SQLITE_ROW ? domain_json(c, q, true) : NULL;
	sqlite3_finalize(q);
	if (!o)
		return reply_err(c, API_INTERNAL, "reading domain failed");
	return reply_json(c, 200, o);
}

/* ---- commands -------------------------------------------------------------
 */

/* The answer to a finished lifecycle job. */
static int job_reply(struct call *c, const char *done_state, unsigned status)
{
	struct job *j = c->job;
	switch (atomic_load_explicit(&j->outcome, memory_order_acquire)) {
	case JOB_DONE:
		break;
	case JOB_NO_DOMAIN:
		return reply_err(c, API_CONFLICT,
		                 "domain '%s' is not running on the hypervisor",
		                 j->name);
	case JOB_TIMEOUT:
		if (!j->sent)
			return reply_err(
			    c, API_UNAVAILABLE,
			    "not sent: billingd could not send the command "
			    "within %llu ms and cancelled it; nothing was done",
			    (unsigned long long)c->api->cfg->api_cmd_wait_ms);
		return reply_err(
		    c, API_UNAVAILABLE,
		    "sent, outcome unknown: no answer from the hypervisor "
		    "within %llu ms; GET /v1/domains/%s to check",
		    (unsigned long long)c->api->cfg->api_cmd_wait_ms, j->name);
	default:
		if (j->sent)
			return reply_err(
			    c, API_UNAVAILABLE,
			    "sent, outcome unknown: the management link "
			    "dropped before the answer; GET /v1/domains/%s to "
			    "check",
			    j->name);
		return reply_err(c, API_UNAVAILABLE,
		                 "not sent: the management link is down; "
		                 "nothing was done");
	}
	if (j->status == FS_EEXIST)
		return reply_err(c, API_CONFLICT,
		                 "a domain '%s' exists already", j->name);
	if (j->status == FS_EBUSY)
		return reply_err(c, API_CONFLICT,
		                 "domain '%s' is in a state that forbids this "
		                 "(FS_EBUSY)",
		                 j->name);
	if (j->status == FS_ENOENT && j->kind == JOB_CREATE)
		return reply_err(c, API_INVALID_FIELD,
		                 "image: the hypervisor has no image '%s'",
		                 j->create.image);
	if (j->status)
		return reply_err(c, API_HV_REFUSED, "%s: %s",
		                 link_err_name(j->status),
		                 link_err_text(j->status));
	json_t *o =
	    json_pack("{s:s, s:s}", "name", j->name, "state", done_state);
	if (j->kind == JOB_CREATE)
		json_object_set_new(o, "domid", json_integer(j->domid));
	return reply_json(c, status, o);
}

static int lifecycle(struct call *c, enum job_kind kind, const char *state)
{
	if (c->job)
		return job_reply(c, state, 200);
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0) || need_admin(c))
		return ROUTE_DONE;
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return reply_err(c, API_INTERNAL, "out of memory");
	j->kind = kind;
	snprintf(j->name, sizeof(j->name), "%.31s", c->arg);
	j->wait_ns = c->api->cfg->api_cmd_wait_ms * NS_PER_MS;
	return call_submit(c, j);
}

int h_domain_delete(struct call *c)
{
	return lifecycle(c, JOB_DESTROY, "destroyed");
}

int h_domain_pause(struct call *c)
{
	return lifecycle(c, JOB_PAUSE, "paused");
}

int h_domain_unpause(struct call *c)
{
	return lifecycle(c, JOB_UNPAUSE, "running");
}

/* A share field's value into p (range of kv.h). 0, or -1 with reply. */
static int share_field(struct call *c, const char *key, json_t *v,
                       struct kv_params *p, uint32_t *clear, bool nullable)
{
	int k = kv_lookup(key);
	char err[160];
	if (k < 0 || k >= (int)API_NSHARES) {
		reply_err(c, API_UNKNOWN_FIELD, "unknown field '%.64s'", key);
		return -1;
	}
	if (json_is_null(v) && nullable) {
		*clear |= 1u << k;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		uint64_t lo, hi;
		kv_range((unsigned)k, &lo, &hi);
		reply_err(c, API_INVALID_FIELD,
		          "%s must be an integer %llu..%llu%s", key,
		          (unsigned long long)lo, (unsigned long long)hi,
		          nullable ? " or null" : "");
		return -1;
	}
	if (kv_set(p, (unsigned)k, (uint64_t)json_integer_value(v), err,
	           sizeof(err))) {
		reply_err(c, API_INVALID_FIELD, "%s", err);
		return -1;
	}
	return 0;
}

/* After a CREATE with memory_max_mb: the limit is desired state (the
 * CREATE command has no field for it), stored once the domain exists and
 * pushed like any shares change; wait for that push (JOB_APPLIED). */
static int create_mem_limit(struct call *c)
{
	struct job *j = c->job;
	char err[256];
	struct kv_params p = {0};
	p.v[KV_MEMORY_MAX_MB] = j->memory_max_mb;
	p.set = 1u << KV_MEMORY_MAX_MB;
	int64_t id = 0;
	if (billingd_set_desired(c->st, j->name, &p, err, sizeof(err)) ||
	    (id = store_domain_id(c->st, j->name, false)) <= 0) {
		blog(LOG_WARN, "api: %s: memory_max_mb: %s", j->name, err);
		return job_reply(c, "running", 201); /* created all the same */
	}
	struct job *a = calloc(1, sizeof(*a));
	if (!a)
		return job_reply(c, "running", 201);
	a->kind = JOB_APPLIED;
	snprintf(a->name, sizeof(a->name), "%s", j->name);
	a->domid = j->domid;
	a->memory_max_mb = j->memory_max_mb;
	a->domain = id;
	sqlite3_stmt *q;
	if (!sqlite3_prepare_v2(store_db(c->st),
	                        "SELECT generation FROM desired WHERE domain=?",
	                        -1, &q, NULL)) {
		sqlite3_bind_int64(q, 1, id);
		if (sqlite3_step(q) == SQLITE_ROW)
			a->generation = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	a->wait_ns = c->api->cfg->api_apply_wait_ms * NS_PER_MS;
	free(j); /* finished: hv.c invariant 2 */
	c->job = NULL;
	return call_submit(c, a);
}

int h_domain_create(struct call *c)
{
	if (c->job && c->job->kind == JOB_APPLIED) {
		struct job *a = c->job;
		/* The domain may not be listed yet when the push is due:
		 * then the limit is pushed when it is (pending). */
		bool applied =
		    atomic_load(&a->outcome) == JOB_DONE && !a->status;
		return reply_json(
		    c, 201,
		    json_pack("{s:s, s:s, s:i, s:I, s:s}", "name", a->name,
		              "state", "running", "domid", (int)a->domid,
		              "memory_max_mb", (json_int_t)a->memory_max_mb,
		              "shares_state", applied ? "applied" : "pending"));
	}
	if (c->job && c->job->set_memory_max &&
	    atomic_load_explicit(&c->job->outcome, memory_order_acquire) ==
	        JOB_DONE &&
	    !c->job->status)
		return create_mem_limit(c);
	if (c->job)
		return job_reply(c, "running", 201);
	if (need_admin(c))
		return ROUTE_DONE;
	json_t *b = body_object(c, false);
	if (!b)
		return ROUTE_DONE;
	struct kv_params p = {0};
	uint32_t clear = 0;
	const char *name = NULL, *image = NULL, *args = "", *owner = NULL;
	uint64_t mem_mb = 64;
	const char *key;
	json_t *v;
	int rc = -1;
	json_object_foreach(b, key, v)
	{
		const char **str = !strcmp(key, "name")    ? &name
		                   : !strcmp(key, "image") ? &image
		                   : !strcmp(key, "args")  ? &args
		                   : !strcmp(key, "owner") ? &owner
		                                           : NULL;
		if (str) {
			if (!json_is_string(v)) {
				reply_err(c, API_INVALID_FIELD,
				          "%s must be a string", key);
				goto out;
			}
			*str = json_string_value(v);
		} else if (!strcmp(key, "memory_mb")) {
			uint64_t lo, hi;
			kv_range(KV_MEMORY_MB, &lo, &hi);
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    (uint64_t)json_integer_value(v) < lo ||
			    (uint64_t)json_integer_value(v) > hi) {
				reply_err(c, API_INVALID_FIELD,
				          "memory_mb must be an integer "
				          "%llu..%llu",
				          (unsigned long long)lo,
				          (unsigned long long)hi);
				goto out;
			}
			mem_mb = (uint64_t)json_integer_value(v);
		} else if (share_field(c, key, v, &p, &clear, false)) {
			goto out;
		}
	}
	if (!name || !image) {
		reply_err(c, API_MISSING_FIELD, "%s is required",
		          !name ? "name" : "image");
		goto out;
	}
	if (!wire_name_valid(name) || !wire_name_valid(image)) {
		reply_err(c, API_INVALID_FIELD,
		          "%s must be 1..%u characters of [A-Za-z0-9_.-]",
		          wire_name_valid(name) ? "image" : "name",
		          WIRE_NAME_MAX);
		goto out;
	}
	size_t alen = strlen(args);
	for (size_t i = 0; i < alen; i++)
		if (args[i] < 0x20 || args[i] > 0x7e)
			alen = WIRE_ARGS_MAX + 1;
	if (alen > WIRE_ARGS_MAX) {
		reply_err(c, API_INVALID_FIELD,
		          "args must be at most %u printable ASCII characters",
		          WIRE_ARGS_MAX);
		goto out;
	}
	if (owner && !ident_valid(owner, API_CUSTOMER_MAX)) {
		reply_err(c, API_INVALID_FIELD, "owner: no customer '%.64s'",
		          owner);
		goto out;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		reply_err(c, API_INTERNAL, "out of memory");
		goto out;
	}
	j->kind = JOB_CREATE;
	/* Validated by share_field() with the ranges of kv.h. */
	j->set_memory_max = p.set & (1u << KV_MEMORY_MAX_MB);
	j->memory_max_mb = p.v[KV_MEMORY_MAX_MB];
	snprintf(j->name, sizeof(j->name), "%s", name);
	struct wire_create *k = &j->create;
	snprintf(k->image, sizeof(k->image), "%s", image);
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->memory_mb = mem_mb;
	k->sched = (struct wire_sched_params){.cpu_weight = 256};
	kv_apply_sched(&p, &k->sched);
	kv_apply_io(&p, &k->io);
	k->args_len = (uint32_t)alen;
	memcpy(k->args, args, alen);
	/* The owner is recorded before the domain exists, so a tenant sees
	 * it from its first METER on; a failed create leaves a domains row
	 * (the name) and nothing else. */
	if (owner) {
		sqlite3 *db = store_db(c->st);
		struct api_err e = {0};
		bool changed;
		int64_t id = store_begin(c->st)
		                 ? -1
		                 : store_domain_id(c->st, name, true);
		if (id <= 0)
			api_fail(&e, API_INTERNAL, "%s", sqlite3_errmsg(db));
		if (id <= 0 ||
		    owner_set(db, id, owner, store_wall_ns(), &changed, &e) ||
		    store_commit(c->st)) {
			store_rollback(c->st);
			free(j);
			if (e.code == API_INVALID_FIELD)
				reply_err(c, API_INVALID_FIELD,
				          "owner: no customer '%.64s'", owner);
			else if (e.code)
				reply_apierr(c, &e);
			else
				reply_err(c, API_INTERNAL, "%s",
				          sqlite3_errmsg(db));
			goto out;
		}
	}
	j->wait_ns = c->api->cfg->api_cmd_wait_ms * NS_PER_MS;
	snprintf(c->location, sizeof(c->location), "/v1/domains/%s", name);
	json_decref(b);
	return call_submit(c, j);
out:
	json_decref(b);
	(void)rc;
	return ROUTE_DONE;
}

/* ---- shares ----------------------------------------------------------------
 */

static int read_shares(struct call *c, int64_t id, struct desired_info *di,
                       uint64_t boot_id)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(store_db(c->st), DOMAIN_SQL "WHERE d.id=?", -1,
	                       &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, id);
	int rc = sqlite3_step(q) == SQLITE_ROW ? 0 : -1;
	if (!rc)
		desired_from_row(q, boot_id, di);
	sqlite3_finalize(q);
	return rc;
}

/* What is in force: the values pushed (desired_load()'s overlay of the
 * quota throttles on the operator's values; the hypervisor's where
 * neither manages a key), the quota metrics whose throttle holds the
 * domain down, and the keys where that differs from the operator's
 * "shares". NULL on a store error. */
static json_t *in_force_json(struct call *c, int64_t id,
                             const struct desired_info *di,
                             const struct dom_live *l)
{
	struct kv_params eff;
	if (desired_effective(c->st, id, &eff))
		return NULL;
	json_t *by = json_array(), *keys = json_array();
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(store_db(c->st),
	                       "SELECT metric FROM quota_state WHERE "
	                       "domain=? AND action='throttle' ORDER BY metric",
	                       -1, &q, NULL)) {
		json_decref(by);
		json_decref(keys);
		return NULL;
	}
	sqlite3_bind_int64(q, 1, id);
	while (sqlite3_step(q) == SQLITE_ROW)
		json_array_append_new(
		    by, json_string((const char *)sqlite3_column_text(q, 0)));
	sqlite3_finalize(q);
	eff.set &= (1u << API_NSHARES) - 1;
	for (unsigned k = 0; k < API_NSHARES; k++) {
		uint32_t b = 1u << k;
		if ((eff.set & b) &&
		    (!(di->p.set & b) || eff.v[k] != di->p.v[k]))
			json_array_append_new(keys, json_string(kv_name(k)));
	}
	return json_pack("{s:o, s:o, s:o}", "shares", shares_json(&eff, l),
	                 "throttled_by", by, "throttled", keys);
}

static int shares_reply(struct call *c, int64_t id, const char *state)
{
	struct link_view lv;
	struct dom_live l;
	struct desired_info di;
	hv_link(c->api->hv, &lv);
	hv_lookup(c->api->hv, c->arg, &l);
	if (read_shares(c, id, &di, lv.boot_id))
		return reply_err(c, API_INTERNAL, "reading shares failed");
	if (state && !strcmp(di.state, "applied"))
		state = "applied";
	snprintf(c->etag, sizeof(c->etag), "\"%lld\"",
	         (long long)di.generation);
	json_t *o =
	    json_pack("{s:s, s:o, s:o, s:I, s:s}", "name", c->arg, "shares",
	              shares_json(&di.p, &l), "managed", managed_json(&di.p),
	              "generation", (json_int_t)di.generation, "state",
	              state ? state : di.state);
	if (o && state)
		json_object_set_new(o, "applied",
		                    json_boolean(!strcmp(state, "applied")));
	json_t *f = in_force_json(c, id, &di, &l);
	if (!f) {
		json_decref(o);
		return reply_err(c, API_INTERNAL, "reading shares failed");
	}
	json_object_set_new(o, "in_force", f);
	return reply_json(c, 200, o);
}

int h_shares_get(struct call *c)
{
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0))
		return ROUTE_DONE;
	return shares_reply(c, id, NULL);
}

/* Does the If-Match header (absent: yes) name generation gen? */
static bool if_match(struct call *c, int64_t gen)
{
	char tag[32];
	snprintf(tag, sizeof(tag), "\"%lld\"", (long long)gen);
	return if_match_tag(c, tag);
}

static int shares_answer(struct call *c)
{
	struct job *j = c->job;
	const char *state = "pending";
	if (atomic_load_explicit(&j->outcome, memory_order_acquire) == JOB_DONE)
		state = j->status ? "refused" : "applied";
	return shares_reply(c, j->domain, state);
}

static int shares_change(struct call *c, bool replace)
{
	if (c->job)
		return shares_answer(c);
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0) || need_admin(c))
		return ROUTE_DONE;
	json_t *b = body_object(c, !replace);
	if (!b)
		return ROUTE_DONE;
	struct kv_params p = {0};
	uint32_t clear = 0;
	const char *key;
	json_t *v;
	json_object_foreach(b, key, v)
	{
		if (share_field(c, key, v, &p, &clear, true)) {
			json_decref(b);
			return ROUTE_DONE;
		}
	}
	json_decref(b);
	if (replace) /* PUT: what is not given is not managed */
		clear = ((1u << API_NSHARES) - 1) & ~p.set;
	struct kv_params cl = {.set = clear};
	char err[256];
	struct desired_info di;
	struct link_view lv;
	hv_link(c->api->hv, &lv);
	if (store_begin(c->st) || read_shares(c, id, &di, lv.boot_id))
		goto sqlerr;
	if (!if_match(c, di.generation)) {
		store_rollback(c->st);
		return reply_err(c, API_PRECONDITION,
		                 "the shares are at ETag \"%lld\"",
		                 (long long)di.generation);
	}
	if ((p.set &&
	     billingd_set_desired(c->st, c->arg, &p, err, sizeof(err))) ||
	    (cl.set && (di.p.set & cl.set) &&
	     billingd_clear_desired(c->st, c->arg, &cl, err, sizeof(err))))
		goto fail;
	if (read_shares(c, id, &di, lv.boot_id) || store_commit(c->st))
		goto sqlerr;
	if (!di.p.set || !(p.set | cl.set) || !c->api->cfg->api_apply_wait_ms)
		return shares_reply(c, id, di.p.set ? "pending" : NULL);
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return shares_reply(c, id, "pending");
	j->kind = JOB_APPLIED;
	snprintf(j->name, sizeof(j->name), "%.31s", c->arg);
	j->domain = id;
	j->generation = di.generation;
	j->wait_ns = c->api->cfg->api_apply_wait_ms * NS_PER_MS;
	return call_submit(c, j);
sqlerr:
	snprintf(err, sizeof(err), "%s", sqlite3_errmsg(store_db(c->st)));
fail:
	store_rollback(c->st);
	return reply_err(c, API_INTERNAL, "%s", err);
}

int h_shares_put(struct call *c)
{
	return shares_change(c, true);
}

int h_shares_patch(struct call *c)
{
	return shares_change(c, false);
}

/* ---- owner ------------------------------------------------------------------
 */

/* The owner document (ownership.h) with its ETag; tenants see only the
 * current owner and since when, not who had the domain before. */
static int owner_reply(struct call *c, int64_t id, int status)
{
	int64_t tag;
	json_t *doc =
	    owner_doc(store_db(c->st), id, c->arg, c->who.admin, &tag);
	if (!doc)
		return reply_err(c, API_INTERNAL, "%s",
		                 sqlite3_errmsg(store_db(c->st)));
	snprintf(c->etag, sizeof(c->etag), "\"%lld\"", (long long)tag);
	return reply_json(c, status, doc);
}

int h_owner_get(struct call *c)
{
	int64_t id;
	if (domain_visible(c, c->arg, &id, NULL, 0))
		return ROUTE_DONE;
	return owner_reply(c, id, 200);
}

static bool if_match(struct call *c, int64_t gen);

/* The new owner from the body: *cust is buf, or NULL for nobody. 0, or
 * -1 answered. */
static int owner_body(struct call *c, const char **cust,
                      char buf[API_CUSTOMER_MAX + 1])
{
	json_t *b = body_object(c, false);
	if (!b)
		return -1;
	const char *key;
	json_t *v, *cv = NULL;
	json_object_foreach(b, key, v)
	{
		if (strcmp(key, "customer")) {
			reply_err(c, API_UNKNOWN_FIELD, "unknown field '%.64s'",
			          key);
			goto bad;
		}
		cv = v;
	}
	if (!cv) {
		reply_err(c, API_MISSING_FIELD, "customer is required");
		goto bad;
	}
	if (!json_is_null(cv) &&
	    (!json_is_string(cv) ||
	     !ident_valid(json_string_value(cv), API_CUSTOMER_MAX))) {
		reply_err(c, API_INVALID_FIELD,
		          "customer must be a customer id or null");
		goto bad;
	}
	snprintf(buf, API_CUSTOMER_MAX + 1, "%s",
	         json_is_null(cv) ? "" : json_string_value(cv));
	*cust = json_is_null(cv) ? NULL : buf;
	json_decref(b);
	return 0;
bad:
	json_decref(b);
	return -1;
}

int h_owner_put(struct call *c)
{
	int64_t id, tag;
	const char *cust;
	char buf[API_CUSTOMER_MAX + 1];
	if (domain_visible(c, c->arg, &id, NULL, 0) || need_admin(c) ||
	    owner_body(c, &cust, buf))
		return ROUTE_DONE;
	sqlite3 *db = store_db(c->st);
	struct api_err e = {0};
	bool changed;
	if (store_begin(c->st)) {
		api_fail(&e, API_INTERNAL, "%s", sqlite3_errmsg(db));
		goto fail;
	}
	/* If-Match against the document as it is inside the transaction,
	 * so two panels cannot both move the domain blindly. */
	json_t *cur = owner_doc(db, id, c->arg, true, &tag);
	if (!cur) {
		api_fail(&e, API_INTERNAL, "%s", sqlite3_errmsg(db));
		goto fail;
	}
	json_decref(cur);
	if (!if_match(c, tag)) {
		store_rollback(c->st);
		return reply_err(c, API_PRECONDITION,
		                 "the owner is at ETag \"%lld\"",
		                 (long long)tag);
	}
	if (owner_set(db, id, cust, store_wall_ns(), &changed, &e))
		goto fail;
	if (store_commit(c->st)) {
		api_fail(&e, API_INTERNAL, "%s", sqlite3_errmsg(db));
		goto fail;
	}
	return owner_reply(c, id, 200);
fail:
	store_rollback(c->st);
	if (e.code == API_INVALID_FIELD)
		return reply_err(c, API_INVALID_FIELD,
		                 "customer: no customer '%.64s'", cust);
	return reply_apierr(c, &e);
}
