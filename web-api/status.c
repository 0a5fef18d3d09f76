/*
 * /v1/health, /v1/metrics (Prometheus text format 0.0.4) and
 * /v1/openapi.yaml. Health and the OpenAPI document need no key (load
 * balancers and client generators); metrics need none from loopback (the
 * local Prometheus agent) and an admin key from anywhere else, since they
 * name every customer's domains (docs/api.md "Metrics").
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int h_health(struct call *c)
{
	struct link_view lv;
	hv_link(c->api->hv, &lv);
	char boot[20];
	snprintf(boot, sizeof(boot), "%016llx", (unsigned long long)lv.boot_id);
	json_t *lag = json_null();
	double lag_s = 0;
	if (lv.last_commit_unix_ns) {
		lag_s =
		    (double)(store_wall_ns() - lv.last_commit_unix_ns) / 1e9;
		lag = json_real(lag_s);
	}
	/* Degraded, not down: the API still answers (200), but usage and
	 * quotas are behind. No batch yet (just started) is not a lag. */
	uint64_t max_s = c->api->cfg->api_health_max_lag_s;
	bool late = lv.last_commit_unix_ns && lag_s > (double)max_s;
	json_t *o =
	    json_pack("{s:s, s:{s:b, s:o, s:I}, s:o, s:I}", "status",
	              late ? "degraded" : "ok", "link", "up", lv.up, "boot_id",
	              lv.boot_id ? json_string(boot) : json_null(), "domains",
	              (json_int_t)lv.ndomains, "ingest_lag_seconds", lag,
	              "max_ingest_lag_seconds", (json_int_t)max_s);
	if (o && late) {
		char why[128];
		snprintf(why, sizeof(why),
		         "no records committed for %.0f s (more than %llu s)",
		         lag_s, (unsigned long long)max_s);
		json_object_set_new(o, "reasons", json_pack("[s]", why));
	}
	return reply_json(c, 200, o);
}

int h_openapi(struct call *c)
{
	char *doc = malloc(c->api->openapi_len + 1);
	if (!doc)
		return reply_err(c, API_INTERNAL, "out of memory");
	memcpy(doc, c->api->openapi, c->api->openapi_len + 1);
	return reply_text(c, 200, "application/yaml", doc, c->api->openapi_len);
}

static const char *const fields[] = {
    "cpu_ns",        "ready_ns",       "cap_throttled_ns", "warped_ns",
    "dispatches",    "wakeups",        "hypercalls",       "blk_read_ops",
    "blk_write_ops", "blk_read_bytes", "blk_write_bytes",  "blk_throttled_ns",
    "mem_pages",     "mem_page_ns"};

/* Per-domain counters of the newest boot (one series per field). */
static int domain_metrics(struct call *c, FILE *f)
{
	sqlite3_stmt *q;
	char sql[1024];
	int n = snprintf(sql, sizeof(sql), "SELECT d.name");
	for (int i = 0; i < 14; i++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, ", bd.%s",
		              fields[i]);
	snprintf(sql + n, sizeof(sql) - (size_t)n,
	         " FROM boot_domains bd JOIN domains d ON d.id=bd.domain "
	         "WHERE bd.boot=(SELECT id FROM boots ORDER BY "
	         "last_seen_unix_ns DESC LIMIT 1) AND bd.last_mono_ns IS NOT "
	         "NULL ORDER BY d.name");
	if (sqlite3_prepare_v2(store_db(c->st), sql, -1, &q, NULL))
		return -1;
	struct row {
		char name[WIRE_NAME_FIELD];
		int64_t v[14];
	} *rows = NULL;
	size_t nr = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (nr == cap) {
			cap = cap ? cap * 2 : 256;
			struct row *r2 = realloc(rows, cap * sizeof(*rows));
			if (!r2)
				break;
			rows = r2;
		}
		snprintf(rows[nr].name, sizeof(rows[nr].name), "%s",
		         sqlite3_column_text(q, 0));
		for (int i = 0; i < 14; i++)
			rows[nr].v[i] = sqlite3_column_int64(q, 1 + i);
		nr++;
	}
	sqlite3_finalize(q);
	for (int i = 0; i < 14 && rc == SQLITE_DONE; i++) {
		bool gauge = !strcmp(fields[i], "mem_pages");
		fprintf(f, "# TYPE fairshare_domain_%s%s %s\n", fields[i],
		        gauge ? "" : "_total", gauge ? "gauge" : "counter");
		for (size_t k = 0; k < nr; k++)
			fprintf(f,
			        "fairshare_domain_%s%s{domain=\"%s\"} %llu\n",
			        fields[i], gauge ? "" : "_total", rows[k].name,
			        (unsigned long long)rows[k].v[i]);
	}
	free(rows);
	return rc == SQLITE_DONE ? 0 : -1;
}

int h_metrics(struct call *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return reply_err(c, API_INTERNAL, "out of memory");
	struct link_view lv;
	hv_link(c->api->hv, &lv);
	fprintf(f,
	        "# HELP billingd_link_up 1 when the management link is up and "
	        "the domain list complete.\n# TYPE billingd_link_up gauge\n"
	        "billingd_link_up %d\n",
	        lv.up ? 1 : 0);
	fprintf(f, "# TYPE billingd_domains gauge\nbillingd_domains %zu\n",
	        lv.ndomains);
	if (lv.last_commit_unix_ns)
		fprintf(f,
		        "# HELP billingd_ingest_lag_seconds Time since the "
		        "last batch of records was committed.\n"
		        "# TYPE billingd_ingest_lag_seconds gauge\n"
		        "billingd_ingest_lag_seconds %.3f\n",
		        (double)(store_wall_ns() - lv.last_commit_unix_ns) /
		            1e9);
	const struct {
		const char *n;
		uint64_t v;
	} totals[] = {{"records", lv.records},
	              {"acks", lv.acks},
	              {"link_losses", lv.losses},
	              {"link_rejects", lv.rejects},
	              {"commits", lv.commits}};
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		fprintf(f,
		        "# TYPE billingd_%s_total counter\n"
		        "billingd_%s_total %llu\n",
		        totals[i].n, totals[i].n,
		        (unsigned long long)totals[i].v);
	fprintf(f, "# TYPE billingd_api_requests_total counter\n");
	for (size_t i = 0; i < routes_count(); i++) {
		const char *m, *p = route_label(i, &m);
		for (int k = 1; k < 6; k++) {
			uint64_t n = atomic_load(&c->api->req_total[i][k]);
			if (n)
				fprintf(
				    f,
				    "billingd_api_requests_total{method=\"%s\","
				    "route=\"%s\",code=\"%dxx\"} %llu\n",
				    m, p, k, (unsigned long long)n);
		}
	}
	/* Requests no route took (404, 405, 414, ...): the same labels. */
	for (size_t i = 0; i < 8; i++)
		for (int k = 1; k < 6; k++) {
			uint64_t n = atomic_load(&c->api->req_unrouted[i][k]);
			if (n)
				fprintf(
				    f,
				    "billingd_api_requests_total{method=\"%s\","
				    "route=\"none\",code=\"%dxx\"} %llu\n",
				    api_method_label(i), k,
				    (unsigned long long)n);
		}
	int rc = domain_metrics(c, f);
	fclose(f);
	if (rc) {
		free(buf);
		return reply_err(c, API_INTERNAL, "reading counters failed");
	}
	return reply_text(c, 200, "text/plain; version=0.0.4", buf, len);
}
