/*
 * hvctl --api: see rest.h. Output: tables for people, or with --json the
 * API's JSON as is (one document per line) for scripts.
 */
#include "rest.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tools/link/kv.h"

struct target {
	char host[256], port[8], prefix[256];
	const char *key;
	int timeout_ms;
	bool json;
};

struct reply {
	int status;
	char *body;
	size_t len;
	char ctype[128];
};

static int parse_url(struct target *t, const char *url)
{
	if (strncmp(url, "http://", 7)) {
		fprintf(stderr, "hvctl: --api takes an http:// URL (HTTPS: see "
		                "docs/api.md)\n");
		return -1;
	}
	const char *h = url + 7;
	size_t hl = strcspn(h, ":/");
	if (!hl || hl >= sizeof(t->host)) {
		fprintf(stderr, "hvctl: no host in '%s'\n", url);
		return -1;
	}
	memcpy(t->host, h, hl);
	t->host[hl] = '\0';
	h += hl;
	snprintf(t->port, sizeof(t->port), "80");
	if (*h == ':') {
		size_t pl = strcspn(++h, "/");
		if (!pl || pl >= sizeof(t->port)) {
			fprintf(stderr, "hvctl: bad port in '%s'\n", url);
			return -1;
		}
		memcpy(t->port, h, pl);
		t->port[pl] = '\0';
		h += pl;
	}
	snprintf(t->prefix, sizeof(t->prefix), "%s", h);
	size_t n = strlen(t->prefix);
	if (n && t->prefix[n - 1] == '/')
		t->prefix[n - 1] = '\0';
	return 0;
}

static int dial(const struct target *t)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *p;
	int rc = getaddrinfo(t->host, t->port, &hints, &ai);
	if (rc) {
		fprintf(stderr, "hvctl: %s: %s\n", t->host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (p = ai; p && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = {t->timeout_ms / 1000,
		                     (t->timeout_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, p->ai_addr, p->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		fprintf(stderr, "hvctl: cannot connect to %s:%s: %s\n", t->host,
		        t->port, strerror(errno));
	return fd;
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Decode a chunked body in place; its new length, or -1. */
static long unchunk(char *b, size_t n)
{
	size_t in = 0, out = 0;
	for (;;) {
		char *end;
		unsigned long k = strtoul(b + in, &end, 16);
		char *crlf = strstr(end, "\r\n");
		if (!crlf || (size_t)(crlf + 2 - b) > n)
			return -1;
		in = (size_t)(crlf + 2 - b);
		if (!k)
			return (long)out;
		if (in + k + 2 > n)
			return -1;
		memmove(b + out, b + in, k);
		out += k;
		in += k + 2;
	}
}

/* One request, Connection: close, the whole answer read. 0 or -1. */
static int request(const struct target *t, const char *method, const char *path,
                   const char *body, const char *accept, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	int fd = dial(t);
	if (fd < 0)
		return -1;
	char head[2048];
	size_t bl = body ? strlen(body) : 0;
	int hn =
	    snprintf(head, sizeof(head),
	             "%s %s%s HTTP/1.1\r\nHost: %s:%s\r\n"
	             "Authorization: Bearer %s\r\nAccept: %s\r\n"
	             "Connection: close\r\n",
	             method, t->prefix, path, t->host, t->port, t->key, accept);
	if (body)
		hn += snprintf(head + hn, sizeof(head) - (size_t)hn,
		               "Content-Type: application/json\r\n"
		               "Content-Length: %zu\r\n",
		               bl);
	hn += snprintf(head + hn, sizeof(head) - (size_t)hn, "\r\n");
	if ((size_t)hn >= sizeof(head) || write_all(fd, head, (size_t)hn) ||
	    (body && write_all(fd, body, bl))) {
		fprintf(stderr, "hvctl: sending the request failed\n");
		close(fd);
		return -1;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	for (ssize_t k; buf; n += (size_t)k) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		k = read(fd, buf + n, cap - n - 1);
		if (k <= 0)
			break;
	}
	close(fd);
	if (!buf)
		return -1;
	buf[n] = '\0';
	char *sep = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) || !sep) {
		fprintf(stderr, "hvctl: no HTTP answer from %s:%s\n", t->host,
		        t->port);
		free(buf);
		return -1;
	}
	r->status = atoi(buf + 9);
	*sep = '\0';
	bool chunked = false;
	for (char *l = strstr(buf, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
		if (!strncasecmp(l + 2, "content-type:", 13))
			sscanf(l + 15, " %127[^\r]", r->ctype);
		if (!strncasecmp(l + 2, "transfer-encoding:", 18) &&
		    strstr(l + 2, "chunked"))
			chunked = true;
	}
	size_t off = (size_t)(sep + 4 - buf);
	r->len = n - off;
	memmove(buf, buf + off, r->len + 1);
	if (chunked) {
		long m = unchunk(buf, r->len);
		r->len = m < 0 ? 0 : (size_t)m;
		buf[r->len] = '\0';
	}
	r->body = buf;
	return 0;
}

/* A problem+json (or any error) for people; exit status 1. */
static int failed(const struct reply *r)
{
	json_t *p = json_loads(r->body, 0, NULL);
	const char *title = json_string_value(json_object_get(p, "title"));
	const char *detail = json_string_value(json_object_get(p, "detail"));
	fprintf(stderr, "hvctl: %d %s: %s\n", r->status, title ? title : "",
	        detail ? detail : r->body);
	json_decref(p);
	return 1;
}

static json_t *get_json(const struct target *t, const char *path, int *rc)
{
	struct reply r;
	*rc = 1;
	if (request(t, "GET", path, NULL, "application/json", &r))
		return NULL;
	json_t *j = NULL;
	if (r.status != 200)
		failed(&r);
	else if (!(j = json_loads(r.body, 0, NULL)))
		fprintf(stderr, "hvctl: the answer is not JSON\n");
	else
		*rc = 0;
	free(r.body);
	return j;
}

/* Send and print: --json the body as is, else fmt(body). */
static int call(const struct target *t, const char *method, const char *path,
                const char *body, int want, void (*fmt)(json_t *))
{
	struct reply r;
	if (request(t, method, path, body, "application/json", &r))
		return 1;
	int rc = 0;
	if (r.status != want) {
		rc = failed(&r);
	} else if (t->json) {
		fputs(r.body, stdout);
	} else {
		json_t *j = json_loads(r.body, 0, NULL);
		if (j)
			fmt(j);
		json_decref(j);
	}
	free(r.body);
	return rc;
}

static long long ival(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *sval(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static int cmd_list(const struct target *t)
{
	int rc;
	json_t *j = get_json(t, "/v1/domains", &rc);
	if (!j)
		return rc;
	if (t->json) {
		char *s = json_dumps(j, JSON_COMPACT);
		puts(s ? s : "");
		free(s);
		json_decref(j);
		return 0;
	}
	printf("%-20s %-8s %-12s %6s %4s %12s %10s %8s %12s\n", "NAME", "STATE",
	       "OWNER", "WEIGHT", "CAP", "IO_BPS", "MEM_MAX_MB", "SHARES",
	       "CPU_S");
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(j, "domains"), i, d)
	{
		json_t *s = json_object_get(d, "shares");
		json_t *c = json_object_get(d, "counters");
		printf("%-20s %-8s %-12s %6lld %4lld %12lld %10lld %8s "
		       "%12.3f\n",
		       sval(d, "name"), sval(d, "state"), sval(d, "owner"),
		       ival(s, "cpu_weight"), ival(s, "cpu_cap_pct"),
		       ival(s, "io_bps"), ival(s, "memory_max_mb"),
		       sval(d, "shares_state"),
		       (double)ival(c, "cpu_ns") / 1e9);
	}
	json_decref(j);
	return 0;
}

/* A JSON integer, or a decimal string (u128 sums), or "-". */
static const char *num(json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "%s",
		         json_is_string(v) ? json_string_value(v) : "-");
	return buf;
}

/* show NAME for people: state, owner, shares (desired and live), the
 * newest counters and the quota. */
static void print_domain(json_t *j)
{
	char a[32], b[32];
	printf("%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s "
	       "(generation %lld)\n",
	       "name", sval(j, "name"), "state", sval(j, "state"), "owner",
	       sval(j, "owner"), "domid",
	       num(json_object_get(j, "domid"), a, sizeof(a)), "shares",
	       sval(j, "shares_state"), ival(j, "generation"));
	json_t *sh = json_object_get(j, "shares");
	json_t *live = json_object_get(j, "live");
	json_t *managed = json_object_get(j, "managed");
	printf("\n%-16s %12s %12s %s\n", "SHARE", "VALUE", "LIVE", "MANAGED");
	const char *k;
	json_t *v;
	json_object_foreach(sh, k, v)
	{
		bool m = false;
		size_t i;
		json_t *e;
		json_array_foreach(managed, i, e) m |=
		    json_is_string(e) && !strcmp(json_string_value(e), k);
		printf("%-16s %12s %12s %s\n", k, num(v, a, sizeof(a)),
		       num(json_object_get(live, k), b, sizeof(b)),
		       m ? "yes" : "no");
	}
	json_t *c = json_object_get(j, "counters");
	if (json_is_object(c)) {
		printf("\nCOUNTERS at %s\n", sval(c, "at"));
		json_object_foreach(c, k, v)
		{
			if (json_is_integer(v))
				printf("  %-18s %s\n", k, num(v, a, sizeof(a)));
		}
	}
	json_t *q = json_object_get(j, "quota");
	json_t *lims = json_object_get(q, "limits");
	if (json_object_size(lims)) {
		printf("\n%-18s %14s %14s %-9s %s\n", "QUOTA", "LIMIT", "USED",
		       "ACTION", "IN FORCE");
		json_object_foreach(lims, k, v)
		{
			bool in = false;
			size_t i;
			json_t *e;
			json_array_foreach(json_object_get(q, "in_force"), i, e)
			    in |= json_is_string(e) &&
			          !strcmp(json_string_value(e), k);
			printf(
			    "%-18s %14s %14s %-9s %s\n", k,
			    num(json_object_get(v, "limit"), a, sizeof(a)),
			    num(json_object_get(json_object_get(q, "usage"), k),
			        b, sizeof(b)),
			    sval(v, "action"), in ? "yes" : "no");
		}
	}
}

/* usage for people: one line per bucket, then the totals. */
static void print_usage(json_t *j)
{
	static const char *const cols[] = {"cpu_ns",          "blk_read_bytes",
	                                   "blk_write_bytes", "blk_read_ops",
	                                   "blk_write_ops",   "mem_page_ns"};
	printf("%s, %s to %s, step %s\n", sval(j, "domain"), sval(j, "from"),
	       sval(j, "to"), sval(j, "step"));
	printf("%-20s %8s %16s %16s %16s %10s %10s %24s\n", "START", "SAMPLES",
	       "CPU_NS", "READ_BYTES", "WRITE_BYTES", "READ_OPS", "WRITE_OPS",
	       "MEM_PAGE_NS");
	size_t i;
	json_t *bk;
	char v[6][48], n[32];
	json_array_foreach(json_object_get(j, "buckets"), i, bk)
	{
		for (int k = 0; k < 6; k++)
			num(json_object_get(bk, cols[k]), v[k], sizeof(v[k]));
		printf("%-20s %8s %16s %16s %16s %10s %10s %24s\n",
		       sval(bk, "start"),
		       num(json_object_get(bk, "samples"), n, sizeof(n)), v[0],
		       v[1], v[2], v[3], v[4], v[5]);
	}
	json_t *t = json_object_get(j, "totals");
	for (int k = 0; k < 6; k++)
		num(json_object_get(t, cols[k]), v[k], sizeof(v[k]));
	printf("%-20s %8s %16s %16s %16s %10s %10s %24s\n", "TOTAL",
	       num(json_object_get(t, "samples"), n, sizeof(n)), v[0], v[1],
	       v[2], v[3], v[4], v[5]);
}

static void print_shares(json_t *j)
{
	printf("%s: %s (generation %lld)\n", sval(j, "name"), sval(j, "state"),
	       ival(j, "generation"));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(j, "shares"), k, v)
	{
		if (json_is_null(v))
			printf("  %-16s -\n", k);
		else
			printf("  %-16s %lld\n", k, json_integer_value(v));
	}
}

static void print_action(json_t *j)
{
	if (json_object_get(j, "domid"))
		printf("%s: %s, domid %lld\n", sval(j, "name"),
		       sval(j, "state"), ival(j, "domid"));
	else
		printf("%s: %s\n", sval(j, "name"), sval(j, "state"));
}

/* key=value words into a JSON object; args= and owner= kept as strings
 * when extra is true (create). 0, or 2 for a bad word. */
static int words_json(json_t *o, char **w, int n, unsigned groups, bool extra)
{
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(w[i], '=');
		if (extra && (!strncmp(w[i], "args=", 5) ||
		              !strncmp(w[i], "owner=", 6))) {
			char k[8];
			snprintf(k, sizeof(k), "%.*s", (int)(eq - w[i]), w[i]);
			json_object_set_new(o, k, json_string(eq + 1));
			continue;
		}
		struct kv_params p = {0};
		char err[160];
		if (kv_parse(&p, w[i], groups, err, sizeof(err))) {
			fprintf(stderr, "hvctl: %s\n", err);
			return 2;
		}
		for (unsigned k = 0; k < KV_NKEYS; k++)
			if (p.set & (1u << k))
				json_object_set_new(
				    o, kv_name(k),
				    json_integer((json_int_t)p.v[k]));
	}
	return 0;
}

static int send_json(const struct target *t, const char *method,
                     const char *path, json_t *o, int want,
                     void (*fmt)(json_t *))
{
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!body)
		return 1;
	int rc = call(t, method, path, body, want, fmt);
	free(body);
	return rc;
}

/* owner: the owner and since when, then (admin) every change. */
static void print_owner(json_t *j)
{
	json_t *since = json_object_get(j, "since");
	printf("%s: owner %s since %s\n", sval(j, "name"), sval(j, "owner"),
	       json_is_string(since) ? json_string_value(since) : "the start");
	json_t *h = json_object_get(j, "history"), *e;
	size_t i;
	if (json_array_size(h))
		printf("%-21s %s\n", "SINCE", "CUSTOMER");
	json_array_foreach(h, i, e)
	{
		since = json_object_get(e, "since");
		printf("%-21s %s\n",
		       json_is_string(since) ? json_string_value(since)
		                             : "(start)",
		       sval(e, "customer"));
	}
}

static int cmd_invoice(const struct target *t, int argc, char **argv)
{
	char path[512];
	snprintf(path, sizeof(path), "/v1/invoices?month=%s%s%s", argv[0],
	         argc > 1 ? "&customer=" : "", argc > 1 ? argv[1] : "");
	struct reply r;
	/* For people the CSV is the table; scripts get the JSON. */
	if (request(t, "GET", path, NULL,
	            t->json ? "application/json" : "text/csv", &r))
		return 1;
	int rc = r.status == 200 ? 0 : failed(&r);
	if (!rc)
		fwrite(r.body, 1, r.len, stdout);
	free(r.body);
	return rc;
}

int rest_main(const char *url, const char *key, bool json, int timeout_ms,
              const char *cmd, int argc, char **argv)
{
	struct target t = {.key = key, .json = json, .timeout_ms = timeout_ms};
	if (parse_url(&t, url))
		return 2;
	char path[512];
	const char *name = argc ? argv[0] : "";
	struct {
		const char *cmd;
		int min, max;
	} shape[] = {{"list", 0, 0},    {"show", 1, 1},    {"set", 2, 64},
	             {"pause", 1, 1},   {"unpause", 1, 1}, {"destroy", 1, 1},
	             {"create", 2, 64}, {"invoice", 1, 2}, {"usage", 3, 4},
	             {"owner", 1, 2}};
	size_t i;
	for (i = 0; i < sizeof(shape) / sizeof(shape[0]); i++)
		if (!strcmp(cmd, shape[i].cmd))
			break;
	if (i == sizeof(shape) / sizeof(shape[0])) {
		fprintf(stderr, "hvctl: unknown command '%s' for --api\n", cmd);
		return 2;
	}
	if (argc < shape[i].min || argc > shape[i].max) {
		fprintf(stderr, "hvctl: wrong number of arguments for %s\n",
		        cmd);
		return 2;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list(&t);
	if (!strcmp(cmd, "invoice"))
		return cmd_invoice(&t, argc, argv);
	snprintf(path, sizeof(path), "/v1/domains/%s", name);
	if (!strcmp(cmd, "show"))
		return call(&t, "GET", path, NULL, 200, print_domain);
	if (!strcmp(cmd, "destroy"))
		return call(&t, "DELETE", path, NULL, 200, print_action);
	if (!strcmp(cmd, "pause") || !strcmp(cmd, "unpause")) {
		snprintf(path, sizeof(path), "/v1/domains/%s/%s", name, cmd);
		return call(&t, "POST", path, NULL, 200, print_action);
	}
	if (!strcmp(cmd, "usage")) {
		snprintf(path, sizeof(path),
		         "/v1/domains/%s/usage?from=%s&to=%s&step=%s", name,
		         argv[1], argv[2], argc > 3 ? argv[3] : "1h");
		return call(&t, "GET", path, NULL, 200, print_usage);
	}
	if (!strcmp(cmd, "owner")) {
		snprintf(path, sizeof(path), "/v1/domains/%s/owner", name);
		if (argc == 1)
			return call(&t, "GET", path, NULL, 200, print_owner);
		/* "none": the domain belongs to no customer from now on */
		json_t *b =
		    json_pack("{s:o}", "customer",
		              strcmp(argv[1], "none") ? json_string(argv[1])
		                                      : json_null());
		return send_json(&t, "PUT", path, b, 200, print_owner);
	}
	json_t *o = json_object();
	if (!strcmp(cmd, "set")) {
		int rc = words_json(o, argv + 1, argc - 1,
		                    KV_G_SCHED | KV_G_IO | KV_G_MEM, false);
		if (rc) {
			json_decref(o);
			return rc;
		}
		snprintf(path, sizeof(path), "/v1/domains/%s/shares", name);
		return send_json(&t, "PATCH", path, o, 200, print_shares);
	}
	/* create IMAGE NAME [key=value ...] [args='..'] [owner=ID] */
	json_object_set_new(o, "image", json_string(argv[0]));
	json_object_set_new(o, "name", json_string(argv[1]));
	int rc = words_json(o, argv + 2, argc - 2,
	                    KV_G_SCHED | KV_G_IO | KV_G_CREATE, true);
	if (rc) {
		json_decref(o);
		return rc;
	}
	return send_json(&t, "POST", "/v1/domains", o, 201, print_action);
}
