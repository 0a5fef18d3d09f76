/*
 * Test store helpers; see helpers.h.
 */
#include "helpers.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounting/wire.h"
#include "billingd/rollup.h"

static void die(const char *what, const char *why)
{
	fprintf(stderr, "tests/billing: %s: %s\n", what, why);
	abort();
}

void tb_open(struct tb *t)
{
	char err[256];
	snprintf(t->dir, sizeof(t->dir), "/tmp/billing-test-XXXXXX");
	if (!mkdtemp(t->dir))
		die("mkdtemp", "failed");
	snprintf(t->path, sizeof(t->path), "%s/b.db", t->dir);
	if (store_open(&t->st, t->path, false, err, sizeof(err)))
		die("store_open", err);
}

void tb_reopen(struct tb *t)
{
	char err[256];
	store_close(t->st);
	if (store_open(&t->st, t->path, false, err, sizeof(err)))
		die("store_open", err);
}

void tb_close(struct tb *t)
{
	char p[256];
	store_close(t->st);
	t->st = NULL;
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", t->path, sfx[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

void tb_sql(struct tb *t, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(store_db(t->st), sql, NULL, NULL, &msg))
		die(sql, msg ? msg : "?");
}

int64_t tb_int(struct tb *t, const char *sql)
{
	sqlite3_stmt *q;
	int64_t v = 0;
	if (sqlite3_prepare_v2(store_db(t->st), sql, -1, &q, NULL))
		die(sql, sqlite3_errmsg(store_db(t->st)));
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

int64_t tb_boot(struct tb *t, uint64_t boot_id, int64_t wall0_ns)
{
	int64_t ref;
	bool is_new;
	char q[160];
	if (store_begin(t->st) ||
	    store_boot(t->st, boot_id, 1000000000, 0, &ref, &is_new))
		die("store_boot", store_errmsg(t->st));
	snprintf(q, sizeof(q),
	         "UPDATE boots SET wall_offset_ns=%lld WHERE id=%lld",
	         (long long)wall0_ns, (long long)ref);
	tb_sql(t, q);
	if (store_commit(t->st))
		die("commit", store_errmsg(t->st));
	return ref;
}

void tb_name(struct tb *t, int64_t boot, uint16_t domid, const char *name)
{
	if (store_begin(t->st) || store_domain_seen(t->st, boot, domid, name) ||
	    store_commit(t->st))
		die("store_domain_seen", store_errmsg(t->st));
}

void tb_meter(struct tb *t, int64_t boot, uint64_t mono_ns, unsigned n,
              const uint16_t *domids, const struct usage_counters *c)
{
	static struct wire_usage u; /* large: WIRE_MAX_BATCH entries */
	memset(&u, 0, sizeof(u));
	u.mono_ns = mono_ns;
	u.next = DOMID_INVALID;
	u.count = n;
	for (unsigned i = 0; i < n; i++) {
		u.e[i].domid = domids[i];
		u.e[i].c = c[i];
	}
	if (store_begin(t->st) || store_meter(t->st, boot, &u) ||
	    store_commit(t->st))
		die("store_meter", store_errmsg(t->st));
}

void tb_destroyed(struct tb *t, int64_t boot, uint64_t seq, uint64_t mono_ns,
                  uint16_t domid, const char *name)
{
	struct wire_event e = {
	    .mono_ns = mono_ns, .domid = domid, .kind = WIRE_EV_DESTROYED};
	snprintf(e.name, sizeof(e.name), "%s", name);
	if (store_begin(t->st) || store_event(t->st, boot, seq, &e) ||
	    store_commit(t->st))
		die("store_event", store_errmsg(t->st));
}

void tb_rollup(struct tb *t)
{
	struct rollup_result r;
	char err[256];
	/* retention far away: nothing deleted, so the raw deltas stay for
	 * the tests' cross-checks */
	if (store_rollup(t->st, 100000, &r, err, sizeof(err)))
		die("store_rollup", err);
}

int64_t tb_now_s(void)
{
	return store_wall_ns() / 1000000000;
}

int64_t tb_utc(int y, int mo, int d, int h, int mi, int s)
{
	/* days_from_civil, restated (tests do not use billing's own) */
	y -= mo <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)(153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 +
	               (unsigned)d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
	return days * 86400 + h * 3600 + mi * 60 + s;
}
