/*
 * The HTTP server: libmicrohttpd in thread-pool + epoll mode, the route
 * table, request bodies, replies, and each pool thread's SQLite connection
 * (docs/api.md "Design").
 *
 * Limits (all from billingd's config, docs/api.md): api_threads pool
 * threads each with its own epoll set; api_max_connections in all and
 * api_per_ip_connections per client address; api_conn_memory_kb per
 * connection (MHD's pool for headers and buffers); idle connections closed
 * after api_conn_timeout_s; bodies accumulated chunk by chunk up to
 * api_max_body_kb, larger ones answered 413 (at once when Content-Length
 * says so, else after discarding the rest).
 *
 * A pool thread never waits for the hypervisor: a handler that needs it
 * suspends its connection and queues a job (hv.c); the connection resumes
 * when the main loop answers. SQLite writes wait at most for the main
 * loop's current ingest batch (WAL: reads never wait).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sqlite3.h>
#include <time.h>

#include "billingd/log.h"
#include "internal.h"

/* A route's needs. */
#define R_PUBLIC 1u  /* no key */
#define R_METRICS 2u /* no key from loopback, an admin key otherwise */
#define R_BODY 4u    /* reads a body */

struct route {
	const char *method, *path; /* "{x}" matches one segment */
	int (*fn)(struct call *c);
	unsigned flags;
	const char *const *params; /* query parameters taken */
};

static const char *const p_usage[] = {"from", "to", "step", NULL};
static const char *const p_invoices[] = {"month", "customer", NULL};

static const struct route routes[] = {
    {"GET", "/v1/health", h_health, R_PUBLIC, NULL},
    {"GET", "/v1/openapi.yaml", h_openapi, R_PUBLIC, NULL},
    {"GET", "/v1/metrics", h_metrics, R_METRICS, NULL},
    {"GET", "/v1/domains", h_domains_list, 0, NULL},
    {"POST", "/v1/domains", h_domain_create, R_BODY, NULL},
    {"GET", "/v1/domains/{name}", h_domain_get, 0, NULL},
    {"DELETE", "/v1/domains/{name}", h_domain_delete, 0, NULL},
    {"POST", "/v1/domains/{name}/pause", h_domain_pause, 0, NULL},
    {"POST", "/v1/domains/{name}/unpause", h_domain_unpause, 0, NULL},
    {"GET", "/v1/domains/{name}/shares", h_shares_get, 0, NULL},
    {"PUT", "/v1/domains/{name}/shares", h_shares_put, R_BODY, NULL},
    {"PATCH", "/v1/domains/{name}/shares", h_shares_patch, R_BODY, NULL},
    {"GET", "/v1/domains/{name}/quota", h_quota_get, 0, NULL},
    {"PUT", "/v1/domains/{name}/quota", h_quota_put, R_BODY, NULL},
    {"GET", "/v1/domains/{name}/usage", h_usage_get, 0, p_usage},
    {"GET", "/v1/domains/{name}/owner", h_owner_get, 0, NULL},
    {"PUT", "/v1/domains/{name}/owner", h_owner_put, R_BODY, NULL},
    {"GET", "/v1/customers", h_customers_list, 0, NULL},
    {"POST", "/v1/customers", h_customer_create, R_BODY, NULL},
    {"GET", "/v1/customers/{id}", h_customer_get, 0, NULL},
    {"PUT", "/v1/customers/{id}", h_customer_put, R_BODY, NULL},
    {"GET", "/v1/plans", h_plans_get, 0, NULL},
    {"PUT", "/v1/plans", h_plans_put, R_BODY, NULL},
    {"GET", "/v1/invoices", h_invoices_get, 0, p_invoices},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))
_Static_assert(NROUTES <= 32, "struct api's req_total has 32 rows");

size_t routes_count(void)
{
	return NROUTES;
}

const char *route_label(size_t i, const char **method)
{
	*method = routes[i].method;
	return routes[i].path;
}

static const char *const method_labels[8] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"};

const char *api_method_label(size_t i)
{
	return method_labels[i < 8 ? i : 7];
}

static size_t method_index(const char *m)
{
	size_t i = 0;
	while (i < 7 && strcmp(method_labels[i], m))
		i++;
	return i;
}

void api_print_routes(void)
{
	for (size_t i = 0; i < NROUTES; i++)
		printf("%s %s\n", routes[i].method, routes[i].path);
}

/* Does url match pattern? The {x} segment is copied to arg. */
static bool path_match(const char *pat, const char *url, char *arg,
                       size_t arglen)
{
	while (*pat && *url) {
		if (*pat == '{') {
			pat = strchr(pat, '}') + 1;
			size_t n = strcspn(url, "/");
			if (n == 0 || n >= arglen)
				return false;
			memcpy(arg, url, n);
			arg[n] = '\0';
			url += n;
		} else if (*pat++ != *url++) {
			return false;
		}
	}
	return !*pat && !*url;
}

/* ---- this thread's store ------------------------------------------------ */

/* Each pool thread opens its own connection to the database on its first
 * request (SQLite connections are not shared between threads here:
 * SQLITE_OPEN_NOMUTEX). The registry in struct api closes them at stop. */
static _Thread_local struct store *tls_store;

/* SQLite's default busy handler sleeps in growing steps up to 100 ms, so a
 * REST write that meets an ingest commit waits far longer than the commit
 * takes. Poll every 0.5 ms instead, for up to 10 s (as store_open's). */
static int busy_wait(void *arg, int tries)
{
	(void)arg;
	if (tries >= 20000)
		return 0;
	struct timespec ts = {0, 500000};
	nanosleep(&ts, NULL);
	return 1;
}

static struct store *thread_store(struct api *a)
{
	if (tls_store)
		return tls_store;
	char err[512];
	struct store *st;
	if (store_open(&st, a->cfg->database, a->cfg->sync_full, err,
	               sizeof(err))) {
		blog(LOG_ERROR, "api: %s", err);
		return NULL;
	}
	pthread_mutex_lock(&a->stores_lock);
	struct store **ns =
	    realloc(a->stores, (a->nstores + 1) * sizeof(*a->stores));
	if (ns) {
		a->stores = ns;
		a->stores[a->nstores++] = st;
	}
	pthread_mutex_unlock(&a->stores_lock);
	if (!ns) {
		store_close(st);
		return NULL;
	}
	sqlite3_busy_handler(store_db(st), busy_wait, NULL);
	tls_store = st;
	return st;
}

/* ---- replies ------------------------------------------------------------ */

int reply_text(struct call *c, unsigned status, const char *ctype, char *text,
               size_t len)
{
	free(c->out);
	c->out = text;
	c->outlen = len;
	c->status = status;
	c->ctype = ctype;
	return ROUTE_DONE;
}

int reply_json(struct call *c, unsigned status, json_t *j)
{
	if (!j)
		return reply_err(c, API_INTERNAL, "out of memory");
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return reply_err(c, API_INTERNAL, "out of memory");
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return reply_err(c, API_INTERNAL, "out of memory");
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	return reply_text(c, status, "application/json", t, n + 1);
}

int reply_err(struct call *c, enum api_code code, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	size_t len;
	char *body = problem_json(code, detail, &len);
	if (code == API_UNAUTHORIZED)
		c->www_auth = true;
	if (code == API_INTERNAL)
		blog(LOG_WARN, "api: %s %s: %s", c->method, c->url, detail);
	c->etag[0] = '\0';
	return reply_text(c, problem_kind(code)->status,
	                  "application/problem+json", body, body ? len : 0);
}

int reply_apierr(struct call *c, const struct api_err *e)
{
	return reply_err(c, e->code == API_OK ? API_INTERNAL : e->code, "%s",
	                 e->detail);
}

int call_submit(struct call *c, struct job *j)
{
	j->conn = c->conn;
	c->job = j;
	MHD_suspend_connection(c->conn);
	hv_submit(c->api->hv, j);
	return ROUTE_SUSPENDED;
}

static enum MHD_Result send_reply(struct call *c)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    c->outlen, c->out, MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	c->out = NULL;
	MHD_add_response_header(r, "Content-Type", c->ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (c->etag[0])
		MHD_add_response_header(r, "ETag", c->etag);
	if (c->location[0])
		MHD_add_response_header(r, "Location", c->location);
	if (c->www_auth)
		MHD_add_response_header(r, "WWW-Authenticate",
		                        "Bearer realm=\"fairshare\"");
	if (c->allow)
		MHD_add_response_header(r, "Allow", c->allow);
	enum MHD_Result ret = MHD_queue_response(c->conn, c->status, r);
	MHD_destroy_response(r);
	unsigned cls = c->status / 100 < 6 ? c->status / 100 : 5;
	if (c->route >= 0)
		atomic_fetch_add(&c->api->req_total[c->route][cls], 1);
	else
		atomic_fetch_add(
		    &c->api->req_unrouted[method_index(c->method)][cls], 1);
	return ret;
}

/* ---- dispatch ----------------------------------------------------------- */

static bool from_loopback(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return false;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		       in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

static int hexval(char h)
{
	return isdigit((unsigned char)h) ? h - '0'
	                                 : (tolower((unsigned char)h) - 'a' + 10);
}

/* Percent-decoding of the path and query values, except that "%00" stays
 * as it is: decoded, it would end the C string there, and
 * "dom-1%00junk" would be taken for "dom-1". Left as "%00" it matches no
 * name and no valid parameter. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	char *w = s;
	for (const char *r = s; *r;) {
		if (r[0] == '%' && isxdigit((unsigned char)r[1]) &&
		    isxdigit((unsigned char)r[2]) && (r[1] != '0' || r[2] != '0')) {
			*w++ = (char)(hexval(r[1]) << 4 | hexval(r[2]));
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* The route for c, or -1 with a 404/405 made. */
static int find_route(struct call *c)
{
	static _Thread_local char allow[64];
	allow[0] = '\0';
	for (size_t i = 0; i < NROUTES; i++) {
		char arg[sizeof(c->arg)];
		if (!path_match(routes[i].path, c->url, arg, sizeof(arg)))
			continue;
		/* HEAD is GET without the body (libmicrohttpd drops it):
		 * load balancers probe /v1/health that way. */
		if (!strcmp(routes[i].method, c->method) ||
		    (!strcmp(c->method, "HEAD") &&
		     !strcmp(routes[i].method, "GET"))) {
			memcpy(c->arg, arg, sizeof(arg));
			return (int)i;
		}
		size_t n = strlen(allow);
		snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "",
		         routes[i].method);
	}
	if (allow[0]) {
		c->allow = allow;
		reply_err(c, API_METHOD,
		          "%s is not allowed on %s (allowed: %s)", c->method,
		          c->url, allow);
	} else {
		reply_err(c, API_NOT_FOUND, "no such resource: %s", c->url);
	}
	return -1;
}

static int dispatch(struct call *c)
{
	int i = find_route(c);
	if (i < 0)
		return ROUTE_DONE;
	const struct route *r = &routes[i];
	c->route = i;
	c->st = thread_store(c->api);
	if (!c->st)
		return reply_err(c, API_INTERNAL, "database unavailable");
	bool need_key = !(r->flags & R_PUBLIC) &&
	                !((r->flags & R_METRICS) && from_loopback(c->conn));
	if (need_key) {
		const char *h = MHD_lookup_connection_value(
		    c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		if (!auth_check(c->st, h, &c->who))
			return reply_err(c, API_UNAUTHORIZED,
			                 h ? "the API key is not valid"
			                   : "an API key is required "
			                     "(Authorization: Bearer KEY)");
		c->authed = true;
		if ((r->flags & R_METRICS) && !c->who.admin)
			return reply_err(c, API_FORBIDDEN,
			                 "metrics need an admin key off "
			                 "loopback");
	}
	if (c->too_large)
		return reply_err(
		    c, API_TOO_LARGE, "the request body exceeds %llu KiB",
		    (unsigned long long)c->api->cfg->api_max_body_kb);
	static const char *const none[] = {NULL};
	if (params_only(c, r->params ? r->params : none))
		return ROUTE_DONE;
	/* What the route produces, against Accept (the invoices route
	 * chooses between JSON and CSV itself). Errors stay problem+json. */
	if (r->fn != h_invoices_get) {
		const char *offers[] = {"application/json", NULL};
		if (r->fn == h_metrics)
			offers[0] = "text/plain";
		else if (r->fn == h_openapi)
			offers[0] = "application/yaml";
		if (accept_pick(c, offers) < 0)
			return reply_err(c, API_NOT_ACCEPTABLE,
			                 "%s is %s only; Accept rules it out",
			                 r->path, offers[0]);
	}
	return r->fn(c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	(void)version;
	struct api *a = cls;
	struct call *c = *con_cls;
	size_t max = (size_t)a->cfg->api_max_body_kb * 1024;
	if (!c || !c->api) { /* new, or made by on_uri() */
		if (!c)
			c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		c->api = a;
		c->conn = conn;
		c->url = url;
		c->method = method;
		c->route = -1;
		*con_cls = c;
		if (c->uri_too_long) {
			reply_err(c, API_URI_TOO_LONG,
			          "the request target exceeds %d bytes",
			          API_URI_MAX);
			return send_reply(c);
		}
		/* Refuse a declared oversized body before reading it. */
		const char *cl = MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > max) {
			reply_err(c, API_TOO_LARGE,
			          "the request body exceeds %zu KiB",
			          max / 1024);
			return send_reply(c);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (c->too_large || c->status)
			return MHD_YES;
		if (c->len + n > max) {
			c->too_large = true;
			free(c->body);
			c->body = NULL;
			c->len = c->cap = 0;
			return MHD_YES;
		}
		if (c->len + n + 1 > c->cap) {
			size_t nc = c->cap ? c->cap : 1024;
			while (nc < c->len + n + 1)
				nc *= 2;
			char *nb = realloc(c->body, nc);
			if (!nb)
				return MHD_NO;
			c->body = nb;
			c->cap = nc;
		}
		memcpy(c->body + c->len, upload, n);
		c->len += n;
		c->body[c->len] = '\0';
		return MHD_YES;
	}
	if (c->status) /* answered already (the early 413) */
		return MHD_YES;
	int rc = c->job ? routes[c->route].fn(c) : dispatch(c);
	if (rc == ROUTE_SUSPENDED)
		return MHD_YES;
	return send_reply(c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	struct call *c = *con_cls;
	if (!c)
		return;
	free(c->body);
	free(c->out);
	free(c->job); /* finished: hv.c invariant 2 */
	free(c);
	*con_cls = NULL;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first look at a request, with the
 * raw request target, before libmicrohttpd reads the headers. What it
 * returns becomes the request's con_cls: a call marked to be answered 414
 * problem+json by on_request() (where reply and counters are at hand). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	if (strlen(uri) <= API_URI_MAX)
		return NULL;
	struct call *c = calloc(1, sizeof(*c));
	if (c)
		c->uri_too_long = true;
	return c;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	blog(LOG_WARN, "api: %s", buf);
}

/* ---- start and stop ----------------------------------------------------- */

static int read_file(const char *path, char *buf, size_t cap, char **out,
                     size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *dyn = NULL;
	size_t n = 0;
	if (!buf) { /* read all, growing */
		size_t c = 0;
		for (;;) {
			if (n + 4096 > c) {
				c = c ? c * 2 : 65536;
				char *nd = realloc(dyn, c);
				if (!nd) {
					free(dyn);
					fclose(f);
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				dyn = nd;
			}
			size_t k = fread(dyn + n, 1, c - n - 1, f);
			n += k;
			if (!k)
				break;
		}
		dyn[n] = '\0';
		*out = dyn;
	} else {
		n = fread(buf, 1, cap - 1, f);
		if (n == cap - 1 && !feof(f) && fgetc(f) != EOF) {
			fclose(f);
			snprintf(err, errlen, "%s: larger than %zu bytes", path,
			         cap - 1);
			return -1;
		}
		buf[n] = '\0';
	}
	if (len)
		*len = n;
	fclose(f);
	return 0;
}

static int start_mhd(struct api *a, char *err, size_t errlen)
{
	const struct config *cfg = a->cfg;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
	                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;
	if (inet_pton(AF_INET, cfg->api_listen, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)cfg->api_port);
	} else if (inet_pton(AF_INET6, cfg->api_listen, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)cfg->api_port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen,
		         "api_listen '%s' is not a numeric IPv4 or IPv6 "
		         "address",
		         cfg->api_listen);
		return -1;
	}
	bool tls = cfg->api_tls_cert[0] != '\0';
	if (tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen,
			         "this libmicrohttpd has no TLS support");
			return -1;
		}
		if (read_file(cfg->api_tls_cert, a->tls_cert_pem,
		              sizeof(a->tls_cert_pem), NULL, NULL, err,
		              errlen) ||
		    read_file(cfg->api_tls_key, a->tls_key_pem,
		              sizeof(a->tls_key_pem), NULL, NULL, err, errlen))
			return -1;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem opts[] = {
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
	    {MHD_OPTION_SOCK_ADDR, 0, &ss},
	    {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->api_threads, NULL},
	    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->api_max_connections,
	     NULL},
	    {MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	     (intptr_t)cfg->api_per_ip_connections, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	     (intptr_t)(cfg->api_conn_memory_kb * 1024), NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->api_conn_timeout_s,
	     NULL},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
	    {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL},
	    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL},
	    {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0,
	     a->tls_cert_pem},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls_key_pem},
	    {MHD_OPTION_END, 0, NULL},
	};
	a->mhd = MHD_start_daemon(flags, (uint16_t)cfg->api_port, NULL, NULL,
	                          on_request, a, MHD_OPTION_ARRAY, opts,
	                          MHD_OPTION_END);
	if (!a->mhd) {
		snprintf(err, errlen, "cannot serve the API on %s port %llu%s",
		         cfg->api_listen, (unsigned long long)cfg->api_port,
		         tls ? " (HTTPS: check the certificate and key)" : "");
		return -1;
	}
	blog(LOG_INFO,
	     "api: %s://%s:%llu/v1/ (%llu threads, %llu connections, %llu "
	     "per client)",
	     tls ? "https" : "http", cfg->api_listen,
	     (unsigned long long)cfg->api_port,
	     (unsigned long long)cfg->api_threads,
	     (unsigned long long)cfg->api_max_connections,
	     (unsigned long long)cfg->api_per_ip_connections);
	return 0;
}

int api_start(struct api **out, const struct config *cfg, struct store *main_st,
              struct session *s, char *err, size_t errlen)
{
	struct api *a = calloc(1, sizeof(*a));
	*out = NULL;
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->cfg = cfg;
	pthread_mutex_init(&a->stores_lock, NULL);
	a->hv = hv_new(cfg, s, main_st);
	if (!a->hv) {
		snprintf(err, errlen, "api: cannot create the job queue");
		goto fail;
	}
	if (cfg->api_port) {
		if (read_file(cfg->api_openapi, NULL, 0, &a->openapi,
		              &a->openapi_len, err, errlen) ||
		    start_mhd(a, err, errlen))
			goto fail;
	}
	*out = a;
	return 0;
fail:
	api_stop(a);
	return -1;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	if (a->hv)
		hv_stop(a->hv);
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	for (size_t i = 0; i < a->nstores; i++)
		store_close(a->stores[i]);
	free(a->stores);
	hv_free(a->hv);
	free(a->openapi);
	pthread_mutex_destroy(&a->stores_lock);
	free(a);
}

int api_fd(const struct api *a)
{
	return hv_fd(a->hv);
}

void api_main_work(struct api *a, uint64_t now)
{
	hv_main_work(a->hv, now);
}

uint64_t api_next_deadline(const struct api *a)
{
	return hv_next_deadline(a->hv);
}

void api_after_commit(struct api *a, bool records)
{
	hv_after_commit(a->hv, records);
}
