/*
 * Desired state in SQLite; see desired.h.
 */
#include "desired.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int desired_load(struct store *st, struct desired_row **rows, size_t *n)
{
	sqlite3_stmt *q;
	*rows = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(
	        store_db(st),
	        "SELECT "
	        "d.domain,m.name,d.generation,d.cpu_weight,d.cpu_cap_pct,"
	        "d.warp_us,d.warp_limit_us,d.unwarp_us,d.io_bps,d.io_iops,"
	        "d.io_burst_bytes,d.io_burst_ops,d.memory_max_mb,"
	        "d.mem_growth_pages_per_s,d.mem_growth_burst_pages "
	        "FROM desired d JOIN domains m ON m.id=d.domain",
	        -1, &q, NULL))
		return -1;
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
		for (unsigned k = 0; k < NDESIRED; k++) {
			if (sqlite3_column_type(q, 3 + (int)k) == SQLITE_NULL)
				continue;
			r->p.v[k] =
			    (uint64_t)sqlite3_column_int64(q, 3 + (int)k);
			r->p.set |= 1u << k;
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		free(*rows);
		*rows = NULL;
		*n = 0;
		return -1;
	}
	return 0;
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
