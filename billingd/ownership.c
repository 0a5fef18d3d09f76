/*
 * Ownership history (ownership.h, docs/billing.md section 11).
 *
 * A row (domain, since_ns, customer) says: from since_ns on, customer
 * (NULL: nobody) owns the domain. since_ns 0 is "from the start": owners
 * recorded before the history existed (schema migration 7), and owners
 * set while the domain had never been metered, whose history has nothing
 * to split. domains.customer stays the current owner, changed only here
 * (and in the same transaction as the row).
 */
#include "ownership.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "billing_int.h"

#define MINUTE_NS ((int64_t)60000000000)

int64_t owner_effective_s(int64_t since_ns)
{
	if (since_ns <= 0)
		return INT64_MIN; /* from the start */
	return (since_ns + MINUTE_NS - 1) / MINUTE_NS * 60;
}

static int step_int(sqlite3 *db, const char *sql, int64_t a, int64_t *out)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, a);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int owner_set(sqlite3 *db, int64_t domain, const char *customer, int64_t now_ns,
              bool *changed, struct api_err *e)
{
	sqlite3_stmt *q;
	*changed = false;
	/* The customer exists, and who owns the domain now. */
	if (sqlite3_prepare_v2(db,
	                       "SELECT (?1 IS NULL OR EXISTS(SELECT 1 FROM "
	                       "customers WHERE id=?1)), customer IS ?1 "
	                       "FROM domains WHERE id=?2",
	                       -1, &q, NULL))
		goto sqlerr;
	if (customer)
		sqlite3_bind_text(q, 1, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, domain);
	int rc = sqlite3_step(q);
	bool exists = rc == SQLITE_ROW && sqlite3_column_int(q, 0);
	bool same = rc == SQLITE_ROW && sqlite3_column_int(q, 1);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		goto sqlerr; /* the caller found the domain in this tx */
	if (!exists)
		return api_fail(e, API_INVALID_FIELD, "no customer '%.64s'",
		                customer);
	if (same)
		return 0;
	/* Never metered: nothing to split, the owner owns it from the
	 * start (a domain created with an owner, or given one before its
	 * first METER, bills its first minute to that owner). */
	int64_t used = 0;
	int m = step_int(db,
	                 "SELECT EXISTS(SELECT 1 FROM boot_domains WHERE "
	                 "domain=? AND last_mono_ns IS NOT NULL)",
	                 domain, &used);
	if (m < 0)
		goto sqlerr;
	if (!used) {
		char sql[96];
		snprintf(sql, sizeof(sql),
		         "DELETE FROM ownership WHERE domain=%lld",
		         (long long)domain);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL))
			goto sqlerr;
		now_ns = 0;
	}
	if (sqlite3_prepare_v2(db,
	                       "INSERT OR REPLACE INTO ownership(domain, "
	                       "since_ns, customer) VALUES(?,?,?)",
	                       -1, &q, NULL))
		goto sqlerr;
	sqlite3_bind_int64(q, 1, domain);
	sqlite3_bind_int64(q, 2, now_ns);
	if (customer)
		sqlite3_bind_text(q, 3, customer, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE ||
	    sqlite3_prepare_v2(db, "UPDATE domains SET customer=? WHERE id=?",
	                       -1, &q, NULL))
		goto sqlerr;
	if (customer)
		sqlite3_bind_text(q, 1, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, domain);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		goto sqlerr;
	*changed = true;
	return 0;
sqlerr:
	return api_fail(e, API_INTERNAL, "ownership: %s", sqlite3_errmsg(db));
}

int owner_since(sqlite3 *db, int64_t domain, const char *customer,
                int64_t *since_s)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT since_ns, customer IS ? FROM ownership "
	                       "WHERE domain=? ORDER BY since_ns DESC",
	                       -1, &q, NULL))
		return -1;
	if (customer)
		sqlite3_bind_text(q, 1, customer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, domain);
	int rc, found = 0;
	int64_t since = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW &&
	       sqlite3_column_int(q, 1)) {
		since = sqlite3_column_int64(q, 0);
		found = 1;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (found)
		*since_s = owner_effective_s(since);
	return found;
}

int owner_other_until(sqlite3 *db, int64_t domain, const char *customer,
                      int64_t *until_s)
{
	sqlite3_stmt *q;
	/* the row after the newest row of another customer */
	if (sqlite3_prepare_v2(db,
	                       "SELECT (SELECT min(n.since_ns) FROM ownership "
	                       "n WHERE n.domain=o.domain AND n.since_ns > "
	                       "o.since_ns) FROM ownership o WHERE domain=?1 "
	                       "AND customer IS NOT NULL AND customer IS NOT "
	                       "?2 ORDER BY since_ns DESC LIMIT 1",
	                       -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, domain);
	if (customer)
		sqlite3_bind_text(q, 2, customer, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*until_s = sqlite3_column_type(q, 0) == SQLITE_NULL
		               ? INT64_MAX /* still theirs */
		               : owner_effective_s(sqlite3_column_int64(q, 0));
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static json_t *since_json(int64_t since_ns)
{
	int64_t s = owner_effective_s(since_ns);
	if (s == INT64_MIN)
		return json_null();
	char t[32];
	rfc3339(s, t);
	return json_string(t);
}

/* FNV-1a over the bytes of v. */
static uint64_t fnv(uint64_t h, const void *v, size_t n)
{
	const unsigned char *p = v;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

json_t *owner_doc(sqlite3 *db, int64_t domain, const char *name, bool history,
                  int64_t *tag)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db,
	                       "SELECT since_ns, customer FROM ownership "
	                       "WHERE domain=? ORDER BY since_ns",
	                       -1, &q, NULL))
		return NULL;
	sqlite3_bind_int64(q, 1, domain);
	json_t *hist = json_array(), *cur = json_null(), *since = json_null();
	uint64_t h = 0xcbf29ce484222325ull;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t at = sqlite3_column_int64(q, 0);
		const char *cust = (const char *)sqlite3_column_text(q, 1);
		h = fnv(h, &at, sizeof(at));
		h = fnv(h, cust ? cust : "", cust ? strlen(cust) + 1 : 0);
		json_t *cj = cust ? json_string(cust) : json_null();
		/* the current period starts at the oldest row of the last
		 * run of rows with the same owner */
		if (!json_equal(cj, cur)) {
			json_decref(since);
			since = since_json(at);
		}
		json_decref(cur);
		cur = json_incref(cj);
		json_array_append_new(hist,
		                      json_pack("{s:o, s:o}", "customer", cj,
		                                "since", since_json(at)));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		json_decref(hist);
		json_decref(cur);
		json_decref(since);
		return NULL;
	}
	*tag = (int64_t)(h >> 2);
	json_t *doc = json_pack("{s:s, s:o, s:o}", "name", name, "owner", cur,
	                        "since", since);
	if (history)
		json_object_set_new(doc, "history", hist);
	else
		json_decref(hist);
	return doc;
}
