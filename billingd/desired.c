/*
 * Desired state in SQLite; see desired.h.
 */
#include "desired.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

/* Column k of table desired is kv key k, for k < KV_MEMORY_MB. */
#define NDESIRED KV_MEMORY_MB

static int change(struct store *st, const char *name, const struct kv_params *p,
                  bool clear, char *err, size_t errlen)
{
	sqlite3 *db = store_db(st);
	bool own = !store_in_tx(st);
	if (!wire_name_valid(name)) {
		snprintf(err, errlen, "'%s' is not a domain name", name);
		return -1;
	}
	if (own && store_begin(st))
		goto sqlerr;
	int64_t id = store_domain_id(st, name, true);
	if (id < 0)
		goto fail;
	char q[2048];
	int n = snprintf(q, sizeof(q),
	                 "INSERT INTO desired(domain,updated_unix_ns) "
	                 "VALUES(%lld,%lld) ON CONFLICT(domain) DO UPDATE SET "
	                 "generation=generation+1,"
	                 "updated_unix_ns=excluded.updated_unix_ns",
	                 (long long)id, (long long)store_wall_ns());
	if (sqlite3_exec(db, q, NULL, NULL, NULL))
		goto fail;
	n = snprintf(q, sizeof(q), "UPDATE desired SET domain=domain");
	for (unsigned k = 0; k < NDESIRED; k++) {
		if (p && !(p->set & (1u << k)))
			continue;
		if (clear)
			n += snprintf(q + n, sizeof(q) - (size_t)n, ",%s=NULL",
			              kv_name(k));
		else
			n += snprintf(q + n, sizeof(q) - (size_t)n, ",%s=%llu",
			              kv_name(k), (unsigned long long)p->v[k]);
	}
	snprintf(q + n, sizeof(q) - (size_t)n, " WHERE domain=%lld",
	         (long long)id);
	if (sqlite3_exec(db, q, NULL, NULL, NULL))
		goto fail;
	if (own && store_commit(st))
		goto sqlerr;
	return 0;
fail:
	if (own)
		store_rollback(st);
sqlerr:
	snprintf(err, errlen, "desired state of %s: %s", name,
	         sqlite3_errmsg(db));
	return -1;
}

int billingd_set_desired(struct store *st, const char *name,
                         const struct kv_params *p, char *err, size_t errlen)
{
	for (unsigned k = 0; k < KV_NKEYS; k++) {
		if (!(p->set & (1u << k)))
			continue;
		uint64_t lo, hi;
		kv_range(k, &lo, &hi);
		if (k >= NDESIRED) {
			snprintf(err, errlen, "%s is not a desired-state key",
			         kv_name(k));
			return -1;
		}
		if (p->v[k] < lo || p->v[k] > hi) {
			snprintf(err, errlen, "%s out of range", kv_name(k));
			return -1;
		}
	}
	return change(st, name, p, false, err, errlen);
}

int billingd_clear_desired(struct store *st, const char *name,
                           const struct kv_params *p, char *err, size_t errlen)
{
	return change(st, name, p, true, err, errlen);
}

/* The hypervisor's neutral value of a throttle key (docs/billing.md). */
static uint64_t neutral(unsigned k)
{
	return k == KV_CPU_WEIGHT ? SCHED_WEIGHT_DEFAULT : 0;
}

/* The more restrictive of two values of throttle key k. */
static uint64_t tighter(unsigned k, uint64_t a, uint64_t b)
{
	if (k != KV_CPU_WEIGHT && (a == 0 || b == 0))
		return a ? a : b; /* 0: unlimited */
	return a < b ? a : b;
}

static const unsigned throttle_keys[4] = {KV_CPU_WEIGHT, KV_CPU_CAP_PCT,
                                          KV_IO_BPS, KV_IO_IOPS};

static int cmp_row(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = ((const struct desired_row *)b)->domain;
	return x < y ? -1 : x > y;
}

/* Overlay the throttles in force on rows (sorted by domain). */
static int overlay_throttles(sqlite3 *db, struct desired_row *rows, size_t n)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT domain,t_cpu_weight,t_cpu_cap_pct,"
	                       "t_io_bps,t_io_iops FROM quota_state WHERE "
	                       "action='throttle'",
	                       -1, &q, NULL))
		return -1;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t dom = sqlite3_column_int64(q, 0);
		struct desired_row *r =
		    bsearch(&dom, rows, n, sizeof(*rows), cmp_row);
		if (!r)
			continue; /* desired_bump() creates the row first */
		for (int i = 0; i < 4; i++) {
			unsigned k = throttle_keys[i];
			if (sqlite3_column_type(q, 1 + i) == SQLITE_NULL)
				continue;
			uint64_t t = (uint64_t)sqlite3_column_int64(q, 1 + i);
			bool has = r->p.set & (1u << k);
			r->p.v[k] = has ? tighter(k, r->p.v[k], t) : t;
			r->p.set |= 1u << k;
		}
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Every row, or only domain's (domain > 0). */
static int load_rows(sqlite3 *db, struct desired_row **rows, size_t *n,
                     int64_t domain)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT "
	        "d.domain,m.name,d.generation,d.cpu_weight,d.cpu_cap_pct,"
	        "d.warp_us,d.warp_limit_us,d.unwarp_us,d.io_bps,d.io_iops,"
	        "d.io_burst_bytes,d.io_burst_ops,d.memory_max_mb,"
	        "d.mem_growth_pages_per_s,d.mem_growth_burst_pages,"
	        "d.quota_released FROM desired d JOIN domains m ON "
	        "m.id=d.domain WHERE ?1 <= 0 OR d.domain = ?1 "
	        "ORDER BY d.domain",
	        -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, domain);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			struct desired_row *nr =
			    realloc(*rows, cap * sizeof(*nr));
			if (!nr) {
				rc = SQLITE_NOMEM;
				break;
			}
			*rows = nr;
		}
		struct desired_row *r = &(*rows)[(*n)++];
		memset(r, 0, sizeof(*r));
		r->domain = sqlite3_column_int64(q, 0);
		snprintf(r->name, sizeof(r->name), "%s",
		         (const char *)sqlite3_column_text(q, 1));
		r->generation = sqlite3_column_int64(q, 2);
		uint32_t released = (uint32_t)sqlite3_column_int64(q, 15);
		for (unsigned k = 0; k < NDESIRED; k++) {
			if (sqlite3_column_type(q, 3 + (int)k) == SQLITE_NULL) {
				if (released & (1u << k)) {
					r->p.v[k] = neutral(k);
					r->p.set |= 1u << k;
				}
				continue;
			}
			r->p.v[k] =
			    (uint64_t)sqlite3_column_int64(q, 3 + (int)k);
			r->p.set |= 1u << k;
		}
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int load(struct store *st, struct desired_row **rows, size_t *n,
                int64_t domain)
{
	sqlite3 *db = store_db(st);
	bool own = sqlite3_get_autocommit(db);
	*rows = NULL;
	*n = 0;
	/* one snapshot for the rows and the throttles */
	if (own && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL))
		return -1;
	int rc = load_rows(db, rows, n, domain);
	if (!rc)
		rc = overlay_throttles(db, *rows, *n);
	if (own)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc) {
		free(*rows);
		*rows = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int desired_load(struct store *st, struct desired_row **rows, size_t *n)
{
	return load(st, rows, n, 0);
}

int desired_effective(struct store *st, int64_t domain, struct kv_params *eff)
{
	struct desired_row *r = NULL;
	size_t n = 0;
	memset(eff, 0, sizeof(*eff));
	if (load(st, &r, &n, domain))
		return -1;
	if (n)
		*eff = r[0].p;
	free(r);
	return 0;
}

int desired_bump(struct store *st, int64_t domain, uint32_t released)
{
	char q[512];
	snprintf(q, sizeof(q),
	         "INSERT INTO desired(domain,updated_unix_ns,quota_released) "
	         "VALUES(%lld,%lld,%u) ON CONFLICT(domain) DO UPDATE SET "
	         "generation=generation+1,quota_released=quota_released|%u",
	         (long long)domain, (long long)store_wall_ns(), released,
	         released);
	return sqlite3_exec(store_db(st), q, NULL, NULL, NULL) ? -1 : 0;
}

int desired_mark(struct store *st, int64_t domain, int64_t generation,
                 uint64_t boot_id, int status)
{
	char q[256];
	if (status == 0)
		snprintf(
		    q, sizeof(q),
		    "UPDATE desired SET applied_generation=%lld,"
		    "applied_boot=%lld,last_status=0 WHERE domain=%lld AND "
		    "generation=%lld",
		    (long long)generation, (long long)boot_id,
		    (long long)domain, (long long)generation);
	else
		snprintf(q, sizeof(q),
		         "UPDATE desired SET last_status=%d WHERE domain=%lld",
		         status, (long long)domain);
	return sqlite3_exec(store_db(st), q, NULL, NULL, NULL) ? -1 : 0;
}
