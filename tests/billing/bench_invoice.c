/*
 * Invoice and quota benchmark (run by bench/bench_invoice.py, which writes
 * build/bench/invoice.json from this program's one-line JSON on stdout).
 *
 *   bench_invoice [DOMAINS]
 *
 * 1. Invoice: DOMAINS (default 1000) domains with a month (2026-09) of
 *    1-minute metering. The fast path writes what the rollups would hold
 *    for that month - 720 usage_1h rows per domain, n = 60 deltas each,
 *    mem_page_ns carries included - straight into usage_1h, then sends
 *    one real METER per domain past the month's end through store_meter()
 *    and store_rollup(), so the month is complete by billing's own rule.
 *    (An invoice reads only usage_1h, boot_domains and the deltas not
 *    rolled up; the raw samples and 1-minute rollups of a real month do
 *    not enter its cost.) Timed: the first request (computes, freezes,
 *    renders JSON for all customers: an upper bound on a live
 *    preview, which computes the same without storing), a stored
 *    document, a CSV and one customer's JSON rendered from the frozen
 *    lines.
 * 2. Quota: 2000 domains each with a quota, 1 s metering through
 *    store_meter(); the cost of quota_evaluate() after each METER batch.
 * 3. History: the quota read path on this month's rollups so far and a
 *    minute of deltas not rolled up (bench_history()).
 *
 *   bench_invoice DOMAINS history [ROUNDS] runs part 3 alone, with
 *   DOMAINS (at most 2000) domains and ROUNDS pending METER batches.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billingd/billing.h"
#include "billingd/billing_int.h"
#include "helpers.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what, sqlite3 *db)
{
	fprintf(stderr, "bench_invoice: %s: %s\n", what,
	        db ? sqlite3_errmsg(db) : "");
	exit(1);
}

/* `hours` hourly rollups from sep of every domain, as store_rollup() writes
 * them. */
static void fast_hours(struct tb *t, int64_t boot, unsigned ndom, int64_t sep,
                       unsigned hours)
{
	sqlite3 *db = store_db(t->st);
	sqlite3_stmt *q;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO usage_1h VALUES(?,?,?,60,?,?,0,0,"
	                       "?,?,?,?,?,?,?,0,?,?,?)",
	                       -1, &q, NULL))
		die("prepare", db);
	for (unsigned d = 1; d <= ndom; d++) {
		uint64_t pages = 65536u << (d % 6); /* 256 MiB .. 8 GiB */
		for (int h = 0; h < (int)hours; h++) {
			unsigned __int128 mem =
			    (unsigned __int128)pages * 3600000000000ull;
			sqlite3_bind_int64(q, 1, boot);
			sqlite3_bind_int64(q, 2, d);
			sqlite3_bind_int64(q, 3, sep + h * 3600);
			sqlite3_bind_int64(q, 4,
			                   (int64_t)(rnd() % 3600000000000ull));
			sqlite3_bind_int64(q, 5,
			                   (int64_t)(rnd() % 100000000000ull));
			sqlite3_bind_int64(q, 6, (int64_t)(rnd() % 360000));
			sqlite3_bind_int64(q, 7, (int64_t)(rnd() % 360000));
			sqlite3_bind_int64(q, 8, (int64_t)(rnd() % 1000000));
			sqlite3_bind_int64(q, 9, (int64_t)(rnd() % 1000000));
			sqlite3_bind_int64(q, 10,
			                   (int64_t)(rnd() % (1ull << 33)));
			sqlite3_bind_int64(q, 11,
			                   (int64_t)(rnd() % (1ull << 32)));
			sqlite3_bind_int64(q, 12, 0);
			sqlite3_bind_int64(q, 13, (int64_t)pages);
			sqlite3_bind_int64(q, 14, (int64_t)(uint64_t)mem);
			sqlite3_bind_int64(q, 15,
			                   (int64_t)(uint64_t)(mem >> 64));
			if (sqlite3_step(q) != SQLITE_DONE)
				die("insert", db);
			sqlite3_reset(q);
		}
	}
	sqlite3_finalize(q);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		die("commit", db);
}

static void customers(struct tb *t, unsigned ndom)
{
	char sql[256];
	tb_sql(t, "BEGIN");
	for (unsigned c = 0; c < ndom / 10; c++) {
		snprintf(sql, sizeof(sql),
		         "INSERT INTO customers(id,name,created_unix_ns,"
		         "updated_unix_ns,plan) VALUES('c%04u','C',0,0,%s)",
		         c, c % 3 ? "NULL" : "'pro'");
		tb_sql(t, sql);
	}
	/* every tenth domain has no customer */
	snprintf(sql, sizeof(sql),
	         "UPDATE domains SET customer=printf('c%%04d',(id-1)/10) "
	         "WHERE id%%10<>0 AND (id-1)/10<%u",
	         ndom / 10);
	tb_sql(t, sql);
	tb_sql(t, "INSERT INTO ownership SELECT id, 0, customer FROM domains "
	          "WHERE customer IS NOT NULL");
	tb_sql(t, "COMMIT");
}

static double timed_invoice(struct store *st, const char *month,
                            const char *cust, bool csv, size_t *len,
                            char **keep)
{
	char *doc;
	struct api_err e;
	double t0 = now_s();
	if (billing_invoice(st, month, cust, csv, &doc, len, &e)) {
		fprintf(stderr, "bench_invoice: invoice: %s\n", e.detail);
		exit(1);
	}
	double dt = now_s() - t0;
	if (keep)
		*keep = doc;
	else
		free(doc);
	return dt;
}

static void bench_invoices(unsigned ndom)
{
	struct tb t;
	char err[256];
	tb_open(&t);
	if (billing_seed_plans(t.st, "config/billing.conf", err, sizeof(err))) {
		fprintf(stderr, "bench_invoice: %s\n", err);
		exit(1);
	}
	int64_t sep = tb_utc(2026, 9, 1, 0, 0, 0);
	int64_t oct = tb_utc(2026, 10, 1, 0, 0, 0);
	int64_t boot = tb_boot(&t, 0xBE, (sep - 60) * 1000000000);
	static uint16_t ids[WIRE_MAX_BATCH];
	static struct usage_counters c[WIRE_MAX_BATCH];
	char name[32];
	for (unsigned d = 1; d <= ndom; d++) {
		snprintf(name, sizeof(name), "dom%05u", d);
		tb_name(&t, boot, (uint16_t)d, name);
	}
	double g0 = now_s();
	fast_hours(&t, boot, ndom, sep, 720);
	/* one real METER past the month's end, in batches of the wire's */
	for (unsigned d = 1; d <= ndom;) {
		unsigned n = 0;
		for (; n < WIRE_MAX_BATCH && d <= ndom; n++, d++) {
			ids[n] = (uint16_t)d;
			memset(&c[n], 0, sizeof(c[n]));
			c[n].cpu_ns = 1;
		}
		tb_meter(&t, boot, (uint64_t)(oct - sep + 120) * 1000000000ull,
		         n, ids, c);
	}
	customers(&t, ndom);
	tb_rollup(&t);
	double gen = now_s() - g0;
	size_t len_json, len_csv, len2;
	char *first, *again;
	double t_first =
	    timed_invoice(t.st, "2026-09", NULL, false, &len_json, &first);
	double t_stored =
	    timed_invoice(t.st, "2026-09", NULL, false, &len2, &again);
	if (len2 != len_json || memcmp(first, again, len2)) {
		fprintf(stderr, "bench_invoice: stored document differs\n");
		exit(1);
	}
	double t_csv =
	    timed_invoice(t.st, "2026-09", NULL, true, &len_csv, NULL);
	double t_cust =
	    timed_invoice(t.st, "2026-09", "c0001", false, &len2, NULL);
	int64_t lines = tb_int(&t, "SELECT count(*) FROM invoice_lines");
	free(first);
	free(again);
	tb_close(&t);
	printf("\"invoice\":{\"domains\":%u,\"hourly_rows\":%u,"
	       "\"lines\":%lld,\"generate_s\":%.3f,\"first_request_s\":%.4f,"
	       "\"stored_request_s\":%.5f,\"csv_from_frozen_s\":%.4f,"
	       "\"one_customer_s\":%.4f,\"json_bytes\":%zu,\"csv_bytes\":%zu}",
	       ndom, ndom * 720, (long long)lines, gen, t_first, t_stored,
	       t_csv, t_cust, len_json, len_csv);
}

static void bench_quota(unsigned ndom, unsigned rounds)
{
	struct tb t;
	tb_open(&t);
	int64_t w0 = tb_now_s() - 3600;
	int64_t boot = tb_boot(&t, 0xB0, w0 * 1000000000);
	char name[32];
	static uint16_t ids[WIRE_MAX_BATCH];
	static struct usage_counters state[2000], c[WIRE_MAX_BATCH];
	for (unsigned d = 1; d <= ndom; d++) {
		snprintf(name, sizeof(name), "q%05u", d);
		tb_name(&t, boot, (uint16_t)d, name);
	}
	json_t *body = json_loads(
	    "{\"limits\":{\"cpu_seconds\":{\"limit\":1000000,\"action\":"
	    "\"suspend\"},\"io_bytes\":{\"limit\":1000000000000,\"action\":"
	    "\"throttle\",\"throttle\":{\"io_bps\":1000000}}}}",
	    0, NULL);
	struct api_err e;
	for (unsigned d = 1; d <= ndom; d++) {
		snprintf(name, sizeof(name), "q%05u", d);
		if (quota_put(t.st, name, body, &e)) {
			fprintf(stderr, "bench_invoice: quota: %s\n", e.detail);
			exit(1);
		}
	}
	json_decref(body);
	double worst = 0, sum = 0;
	char err[256];
	for (unsigned r = 1; r <= rounds; r++) {
		for (unsigned d = 1; d <= ndom;) {
			unsigned n = 0;
			for (; n < WIRE_MAX_BATCH && d <= ndom; n++, d++) {
				ids[n] = (uint16_t)d;
				state[d - 1].cpu_ns += 1000000000;
				state[d - 1].blk_read_bytes += 1 << 20;
				c[n] = state[d - 1];
			}
			tb_meter(&t, boot, (uint64_t)r * 1000000000ull, n, ids,
			         c);
		}
		struct quota_action *acts;
		size_t na;
		double t0 = now_s();
		if (quota_evaluate(t.st, store_wall_ns(), &acts, &na, err,
		                   sizeof(err))) {
			fprintf(stderr, "bench_invoice: %s\n", err);
			exit(1);
		}
		double dt = now_s() - t0;
		free(acts);
		sum += dt;
		if (dt > worst)
			worst = dt;
	}
	tb_close(&t);
	printf(",\"quota\":{\"domains\":%u,\"rounds\":%u,"
	       "\"evaluate_mean_s\":%.5f,\"evaluate_max_s\":%.5f}",
	       ndom, rounds, sum / rounds, worst);
}

/* 3. A month of history: ndom domains with this month's hourly rollups so
 * far (as fast_hours() writes them) and `rounds` 1 s METER batches not
 * rolled up yet (billingd rolls up every 60 s, so under ingest up to a
 * minute of deltas is always pending). Timed: quota_get() of a domain
 * without and with a quota, and quota_evaluate() with no quota anywhere
 * (first call and steady state) and with one, per METER batch. */
static double timed_get(struct store *st, const char *name, int reps)
{
	struct api_err e;
	double t0 = now_s();
	for (int i = 0; i < reps; i++) {
		json_t *j = quota_get(st, name, &e);
		if (!j) {
			fprintf(stderr, "bench_invoice: quota_get: %s\n",
			        e.detail);
			exit(1);
		}
		json_decref(j);
	}
	return (now_s() - t0) / reps;
}

static double timed_eval(struct store *st)
{
	struct quota_action *acts;
	size_t na;
	char err[256];
	double t0 = now_s();
	if (quota_evaluate(st, store_wall_ns(), &acts, &na, err,
	                   sizeof(err))) {
		fprintf(stderr, "bench_invoice: %s\n", err);
		exit(1);
	}
	free(acts);
	return now_s() - t0;
}

static void history_round(struct tb *t, int64_t boot, unsigned ndom,
                          uint64_t mono_s, struct usage_counters *state)
{
	static uint16_t ids[WIRE_MAX_BATCH];
	static struct usage_counters c[WIRE_MAX_BATCH];
	for (unsigned d = 1; d <= ndom;) {
		unsigned n = 0;
		for (; n < WIRE_MAX_BATCH && d <= ndom; n++, d++) {
			ids[n] = (uint16_t)d;
			state[d - 1].cpu_ns += 1000000000;
			state[d - 1].blk_read_bytes += 1 << 20;
			c[n] = state[d - 1];
		}
		tb_meter(t, boot, mono_s * 1000000000ull, n, ids, c);
	}
}

static void bench_history(unsigned ndom, unsigned rounds)
{
	struct tb t;
	tb_open(&t);
	int64_t now = tb_now_s(), ms, me;
	char month[8], name[32];
	month_of(now, &ms, &me, month);
	/* whole hours of this month before the pending minute */
	unsigned hours = (unsigned)((now - ms) / 3600);
	if (hours > 0)
		hours--;
	int64_t w0 = now - rounds - 5; /* mono 0 */
	int64_t boot = tb_boot(&t, 0xB1, w0 * 1000000000);
	static struct usage_counters state[2000];
	for (unsigned d = 1; d <= ndom; d++) {
		snprintf(name, sizeof(name), "h%05u", d);
		tb_name(&t, boot, (uint16_t)d, name);
	}
	fast_hours(&t, boot, ndom, ms, hours);
	for (unsigned r = 1; r <= rounds; r++)
		history_round(&t, boot, ndom, r, state);
	int64_t pending = tb_int(&t, "SELECT count(*) FROM usage_delta");
	double eval_first = timed_eval(t.st);
	history_round(&t, boot, ndom, rounds + 1, state);
	double eval_none = timed_eval(t.st);
	double get_none = timed_get(t.st, "h00042", 200);
	json_t *body = json_loads(
	    "{\"limits\":{\"cpu_seconds\":{\"limit\":1000000000,\"action\":"
	    "\"suspend\"}}}",
	    0, NULL);
	struct api_err e;
	double t0 = now_s();
	if (quota_put(t.st, "h00042", body, &e)) {
		fprintf(stderr, "bench_invoice: quota: %s\n", e.detail);
		exit(1);
	}
	double put = now_s() - t0;
	json_decref(body);
	timed_eval(t.st);
	double eval_one = 0, eval_one_max = 0;
	for (unsigned r = 0; r < 10; r++) {
		history_round(&t, boot, ndom, rounds + 2 + r, state);
		double dt = timed_eval(t.st);
		eval_one += dt / 10;
		if (dt > eval_one_max)
			eval_one_max = dt;
	}
	double get_one = timed_get(t.st, "h00042", 200);
	tb_close(&t);
	printf(",\"history\":{\"domains\":%u,\"hourly_rows\":%u,"
	       "\"pending_deltas\":%lld,\"quota_get_none_s\":%.6f,"
	       "\"quota_get_one_s\":%.6f,\"evaluate_first_none_s\":%.5f,"
	       "\"evaluate_none_s\":%.6f,\"evaluate_one_mean_s\":%.6f,"
	       "\"evaluate_one_max_s\":%.6f,\"quota_put_s\":%.6f}",
	       ndom, ndom * hours, (long long)pending, get_none, get_one,
	       eval_first, eval_none, eval_one, eval_one_max, put);
}

int main(int argc, char **argv)
{
	unsigned ndom = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	if (ndom < 10 || ndom > 60000) {
		fprintf(stderr, "usage: bench_invoice [DOMAINS]\n");
		return 2;
	}
	/* "history": part 3 only (a quicker look at the quota read path) */
	bool all = argc < 3 || strcmp(argv[2], "history");
	printf("{\"only\":%s", all ? "false" : "true");
	if (all) {
		printf(",");
		bench_invoices(ndom);
		bench_quota(2000, 30);
	}
	if (all)
		bench_history(2000, 60);
	else /* bench_invoice DOMAINS history [ROUNDS] */
		bench_history(ndom > 2000 ? 2000 : ndom,
		              argc > 3 ? (unsigned)atoi(argv[3]) : 60);
	printf("}\n");
	return 0;
}
