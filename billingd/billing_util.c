/*
 * Calendar, 128-bit and scan helpers for billing (billing_int.h).
 */
#include "billing_int.h"

#include <stdio.h>
#include <string.h>

#include "accounting/wire.h"

/* Howard Hinnant's days_from_civil: exact for every Gregorian date. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int month_parse(const char *s, int64_t *start_s, int64_t *end_s)
{
	if (!s || strlen(s) != 7 || s[4] != '-')
		return -1;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	            (s[2] - '0') * 10 + (s[3] - '0');
	unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	if (y < 1970 || m < 1 || m > 12)
		return -1;
	*start_s = days_from_civil(y, m, 1) * 86400;
	*end_s = (m == 12 ? days_from_civil(y + 1, 1, 1)
	                  : days_from_civil(y, m + 1, 1)) *
	         86400;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void month_of(int64_t t_s, int64_t *start_s, int64_t *end_s, char name[8])
{
	int64_t y;
	unsigned m, d;
	civil_from_days(floor_div(t_s, 86400), &y, &m, &d);
	*start_s = days_from_civil(y, m, 1) * 86400;
	*end_s = (m == 12 ? days_from_civil(y + 1, 1, 1)
	                  : days_from_civil(y, m + 1, 1)) *
	         86400;
	snprintf(name, 8, "%04u-%02u", (unsigned)(y % 10000) % 10000u,
	         m % 100u);
}

void rfc3339(int64_t t_s, char out[32])
{
	int64_t y, days = floor_div(t_s, 86400), sod = t_s - days * 86400;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m,
	         d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

void u128_str(u128 v, char out[U128_DIGITS])
{
	char tmp[U128_DIGITS];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = 0;
}

int u128_parse(const char *s, u128 *v)
{
	u128 x = 0, max = ~(u128)0;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned dg = (unsigned)(*s - '0');
		if (x > (max - dg) / 10)
			return -1;
		x = x * 10 + dg;
	}
	*v = x;
	return 0;
}

u128 div_half_up(u128 num, u128 den)
{
	u128 q = num / den, r = num % den;
	/* r < den, so den - r cannot wrap: r >= den - r <=> 2r >= den */
	return r >= den - r ? q + 1 : q;
}

void meter_add(struct meter_sum *a, const struct meter_sum *b)
{
	a->n += b->n;
	a->cpu_ns += b->cpu_ns;
	a->ready_ns += b->ready_ns;
	a->read_ops += b->read_ops;
	a->write_ops += b->write_ops;
	a->read_bytes += b->read_bytes;
	a->write_bytes += b->write_bytes;
	a->mem_page_ns += b->mem_page_ns;
	if (b->mem_pages_max > a->mem_pages_max)
		a->mem_pages_max = b->mem_pages_max;
}


int tx_begin(sqlite3 *db, bool write)
{
	return sqlite3_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL,
	                    NULL)
	           ? -1
	           : 0;
}

int tx_commit(sqlite3 *db)
{
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) ? -1 : 0;
}

void tx_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

bool billing_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > WIRE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* ---- the scan ---- */

/* Columns 3.. of both scan queries, in this order. */
#define SCAN_COLS                                                              \
	"u.cpu_ns,u.ready_ns,u.blk_read_ops,u.blk_write_ops,u.blk_read_bytes," \
	"u.blk_write_bytes,u.mem_page_ns,u.mem_pages"

static void read_sum(sqlite3_stmt *q, int c, struct meter_sum *m, bool hi)
{
	m->cpu_ns = (uint64_t)sqlite3_column_int64(q, c);
	m->ready_ns = (uint64_t)sqlite3_column_int64(q, c + 1);
	m->read_ops = (uint64_t)sqlite3_column_int64(q, c + 2);
	m->write_ops = (uint64_t)sqlite3_column_int64(q, c + 3);
	m->read_bytes = (uint64_t)sqlite3_column_int64(q, c + 4);
	m->write_bytes = (uint64_t)sqlite3_column_int64(q, c + 5);
	m->mem_page_ns = (uint64_t)sqlite3_column_int64(q, c + 6);
	m->mem_pages_max = (uint64_t)sqlite3_column_int64(q, c + 7);
	if (hi) /* the rollups keep mem_page_ns's carries */
		m->mem_page_ns |= (u128)(uint64_t)sqlite3_column_int64(q, c + 8)
		                  << 64;
}

static int scan_rollups(sqlite3 *db, int64_t domain, int64_t from_s,
                        int64_t to_s, int64_t step_s, scan_fn fn, void *ctx)
{
	char sql[512];
	/* Per series, a key-range read of the rollup's primary key (boot,
	 * domid, bucket): never a scan of the whole table, which grows
	 * forever. */
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(bd.domain,0),u.bucket_unix_s,u.n," SCAN_COLS
	         ",u.mem_page_ns_hi FROM boot_domains bd JOIN %s u ON "
	         "u.boot=bd.boot AND u.domid=bd.domid AND u.bucket_unix_s>=?1"
	         " AND u.bucket_unix_s<?2 %s",
	         step_s == 60 ? "usage_1m" : "usage_1h",
	         domain ? "WHERE bd.domain=?3" : "");
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, from_s);
	sqlite3_bind_int64(q, 2, to_s);
	if (domain)
		sqlite3_bind_int64(q, 3, domain);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct meter_sum m;
		int64_t b = sqlite3_column_int64(q, 1);
		read_sum(q, 3, &m, true);
		m.n = (uint64_t)sqlite3_column_int64(q, 2);
		if (fn(ctx, sqlite3_column_int64(q, 0), b - (b % step_s), &m)) {
			rc = SQLITE_ABORT;
			break;
		}
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int scan_deltas(sqlite3 *db, int64_t domain, int64_t from_s,
                       int64_t to_s, int64_t step_s, int64_t upto_id,
                       scan_fn fn, void *ctx)
{
	int64_t mark = store_stat_get(db, "rollup_delta_id");
	if (mark < 0)
		return -1;
	/* The deltas after the rollup mark: a rowid range, at most
	 * rollup_interval_s of metering - of every domain, which under
	 * ingest is 10^5 rows and more (2000 domains, a minute). One
	 * domain's are read per series instead, through boot_domains'
	 * domain index and usage_delta's (boot, domid) index with the rowid
	 * range (schema migration 6): its own rows only. */
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
	        db,
	        domain ? "SELECT bd.domain,(u.end_ns+b.wall_offset_ns)/"
	                 "1000000000," SCAN_COLS " FROM boot_domains bd "
	                 "JOIN usage_delta u ON u.boot=bd.boot AND "
	                 "u.domid=bd.domid AND u.id>?1 AND u.id<=?2 JOIN "
	                 "boots b ON b.id=u.boot WHERE bd.domain=?3"
	               : "SELECT coalesce(bd.domain,0),(u.end_ns+"
	                 "b.wall_offset_ns)/1000000000," SCAN_COLS
	                 " FROM usage_delta u JOIN boots b ON b.id=u.boot "
	                 "LEFT JOIN boot_domains bd ON bd.boot=u.boot AND "
	                 "bd.domid=u.domid WHERE u.id>?1 AND u.id<=?2",
	        -1, &q, NULL))
		return -1;
	sqlite3_bind_int64(q, 1, mark);
	sqlite3_bind_int64(q, 2, upto_id >= 0 ? upto_id : INT64_MAX);
	if (domain)
		sqlite3_bind_int64(q, 3, domain);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t dom = sqlite3_column_int64(q, 0);
		int64_t t = sqlite3_column_int64(q, 1);
		if ((domain && dom != domain) || t < from_s || t >= to_s)
			continue;
		struct meter_sum m;
		read_sum(q, 2, &m, false);
		m.n = 1;
		if (fn(ctx, dom, t - (t - from_s) % step_s, &m)) {
			rc = SQLITE_ABORT;
			break;
		}
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int usage_scan(sqlite3 *db, int64_t domain, int64_t from_s, int64_t to_s,
               int64_t step_s, int64_t upto_id, scan_fn fn, void *ctx)
{
	if (scan_rollups(db, domain, from_s, to_s, step_s, fn, ctx))
		return -1;
	return scan_deltas(db, domain, from_s, to_s, step_s, upto_id, fn, ctx);
}
