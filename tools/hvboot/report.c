/*
 * Parser for the '@' lines of the hypervisor's COM1 log (grammar in
 * report.h). Strict: hvboot's numbers are what a provider bills and a
 * benchmark compares, so a line we do not fully understand is an error
 * with its line number, never skipped.
 *
 * Each line kind is described by a table of fields; parse_fields() checks
 * that every field appears exactly once, that no other field appears, and
 * that a TEXT field (which runs to the end of the line and may hold spaces)
 * is the last one.
 */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs_errors.h"
#include "tools/common/err_at.h"

enum ftype { F_U64, F_NAME, F_KEY, F_WORD, F_TEXT };

struct field {
	const char *key;
	enum ftype type;
	bool optional;
};

struct fval {
	const char *s; /* points into the line, NUL-terminated */
	uint64_t u;    /* F_U64 */
	bool set;
};

/* Fields per line kind; the index is the position in the fval array. */
/* clang-format off */
#define REQ(k, t) {(k), (t), false}
#define OPT(k, t) {(k), (t), true}
/* clang-format on */
enum { RB_ELAPSED, RB_IDLE, RB_HV, RB_TSC, RB_DOMAINS, RB_N };
static const struct field report_begin_fields[RB_N] = {
    REQ("elapsed_ns", F_U64), REQ("idle_ns", F_U64), REQ("hv_ns", F_U64),
    REQ("tsc_hz", F_U64),     REQ("domains", F_U64),
};

enum {
	D_ID,
	D_NAME,
	D_STATE,
	D_CPU,
	D_READY,
	D_WARPED,
	D_DISPATCHES,
	D_WAKEUPS,
	D_HYPERCALLS,
	D_WEIGHT,
	D_BRO,
	D_BWO,
	D_BRB,
	D_BWB,
	D_BTH,
	D_MP,
	D_MPNS,
	D_EXIT,
	D_N
};
static const struct field domain_fields[D_N] = {
    REQ("id", F_U64),           REQ("name", F_NAME),
    REQ("state", F_WORD),       REQ("cpu_ns", F_U64),
    REQ("ready_ns", F_U64),     REQ("warped_ns", F_U64),
    REQ("dispatches", F_U64),   REQ("wakeups", F_U64),
    REQ("hypercalls", F_U64),   REQ("cpu_weight", F_U64),
    REQ("blk_read_ops", F_U64), REQ("blk_write_ops", F_U64),
    REQ("blk_read_bytes", F_U64), REQ("blk_write_bytes", F_U64),
    REQ("blk_throttled_ns", F_U64), REQ("mem_pages", F_U64),
    REQ("mem_page_ns", F_U64),
    REQ("exit_reason", F_TEXT),
};

enum { KV_ID, KV_KEY, KV_VALUE, KV_N };
static const struct field kv_fields[KV_N] = {
    REQ("id", F_U64),
    REQ("key", F_KEY),
    REQ("value", F_U64),
};

enum { RF_MODULE, RF_NAME, RF_REASON, RF_N };
static const struct field refused_fields[RF_N] = {
    REQ("module", F_U64),
    OPT("name", F_NAME),
    REQ("reason", F_TEXT),
};

enum phase { BEFORE_REPORT, IN_REPORT, AFTER_REPORT };

struct rctx {
	struct hv_report *r;
	const char *path;
	unsigned line;
	char *err;
	size_t errlen;
	enum phase phase;
	unsigned begin_line;
	uint64_t want_domains;
	size_t cap_doms, cap_bench, cap_refused;
};

static int fail(struct rctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct rctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr_at(c->err, c->errlen, c->path, c->line, fmt, ap);
	va_end(ap);
	return FS_EPROTO;
}

/* Grow *arr (of *cap elements of size sz) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return FS_OK;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = realloc(*arr, ncap * sz);
	if (!p)
		return FS_ENOMEM;
	*arr = p;
	*cap = ncap;
	return FS_OK;
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t x = 0;
	if (!*s)
		return FS_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return FS_EINVAL;
		uint64_t d = (uint64_t)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return FS_ERANGE;
		x = x * 10 + d;
	}
	*out = x;
	return FS_OK;
}

static bool word_of(const char *s, size_t max, bool dash)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || (dash && ch == '-')))
			return false;
	}
	return n >= 1 && n <= max;
}

/* -?DIGITS(.DIGITS)?, no superfluous leading zero: a valid JSON number. */
static bool json_number(const char *s)
{
	if (strlen(s) > REPORT_NUM_MAX)
		return false;
	if (*s == '-')
		s++;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == 0;
}

/* Copy a string whose length the caller has checked against size. */
static void copy_checked(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static char *skip_spaces(char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* Split p ("k=v k=v ...") into vals per the table. Modifies p. */
static int parse_fields(struct rctx *c, char *p, const struct field *fs,
                        size_t nf, struct fval *vals)
{
	for (size_t i = 0; i < nf; i++)
		vals[i] = (struct fval){.s = ""};
	for (p = skip_spaces(p); *p; p = skip_spaces(p)) {
		char *eq = strchr(p, '=');
		char *sp = strchr(p, ' ');
		if (!eq || (sp && sp < eq) || eq == p)
			return fail(c, "expected key=value, got '%.*s'",
			            (int)(sp ? (size_t)(sp - p) : strlen(p)),
			            p);
		*eq = 0;
		size_t i = 0;
		while (i < nf && strcmp(fs[i].key, p) != 0)
			i++;
		if (i == nf)
			return fail(c, "unknown field '%s'", p);
		if (vals[i].set)
			return fail(c, "field '%s' given twice", p);
		char *v = eq + 1;
		if (fs[i].type == F_TEXT) {
			size_t n = strlen(v);
			while (n && v[n - 1] == ' ')
				v[--n] = 0;
			if (!n)
				return fail(c, "%s is empty", fs[i].key);
			p = v + n;
		} else {
			p = v + strcspn(v, " ");
			if (*p)
				*p++ = 0;
		}
		vals[i].s = v;
		vals[i].set = true;
		switch (fs[i].type) {
		case F_U64:
			if (parse_u64(v, &vals[i].u))
				return fail(c,
				            "%s=%s is not a 64-bit unsigned "
				            "integer",
				            fs[i].key, v);
			break;
		case F_NAME:
			if (!word_of(v, FS_NAME_MAX, true))
				return fail(c,
				            "%s=%s is not 1..31 of [a-z0-9_-]",
				            fs[i].key, v);
			break;
		case F_KEY:
			if (!word_of(v, REPORT_KEY_MAX, false))
				return fail(c,
				            "%s=%s is not 1..31 of [a-z0-9_]",
				            fs[i].key, v);
			break;
		case F_WORD:
		case F_TEXT:
			break;
		}
	}
	const char *text = NULL; /* a TEXT field swallows what follows it */
	for (size_t i = 0; i < nf; i++)
		if (vals[i].set && fs[i].type == F_TEXT)
			text = fs[i].key;
	for (size_t i = 0; i < nf; i++)
		if (!vals[i].set && !fs[i].optional)
			return fail(c, "missing field '%s'%s%s%s", fs[i].key,
			            text ? " (" : "", text ? text : "",
			            text ? "= must be the last field)" : "");
	return FS_OK;
}

static char *dup_str(struct rctx *c, const char *s, char **out)
{
	*out = strdup(s);
	if (!*out)
		fail(c, "out of memory");
	return *out;
}

static int line_bench(struct rctx *c, char *p)
{
	struct hv_report *r = c->r;
	for (p = skip_spaces(p); *p; p = skip_spaces(p)) {
		char *tok = p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = 0;
		char *eq = strchr(tok, '=');
		if (!eq)
			return fail(c, "expected key=value, got '%s'", tok);
		*eq = 0;
		if (!word_of(tok, REPORT_KEY_MAX, false))
			return fail(
			    c, "bench key '%s' is not 1..31 of [a-z0-9_]", tok);
		if (!json_number(eq + 1))
			return fail(c, "bench %s=%s is not a number", tok,
			            eq + 1);
		for (size_t i = 0; i < r->nbench; i++)
			if (!strcmp(r->bench[i].key, tok))
				return fail(c, "bench key '%s' given twice",
				            tok);
		if (grow((void **)&r->bench, &c->cap_bench, r->nbench,
		         sizeof(*r->bench)))
			return fail(c, "out of memory");
		struct report_bench *b = &r->bench[r->nbench++];
		copy_checked(b->key, sizeof(b->key), tok);
		copy_checked(b->value, sizeof(b->value), eq + 1);
	}
	return FS_OK;
}

static int line_refused(struct rctx *c, char *p)
{
	struct fval v[RF_N];
	struct hv_report *r = c->r;
	int rc = parse_fields(c, p, refused_fields, RF_N, v);
	if (rc)
		return rc;
	if (grow((void **)&r->refused, &c->cap_refused, r->nrefused,
	         sizeof(*r->refused)))
		return fail(c, "out of memory");
	struct report_refused *f = &r->refused[r->nrefused];
	f->module = v[RF_MODULE].u;
	f->name[0] = 0;
	if (v[RF_NAME].set)
		copy_checked(f->name, sizeof(f->name), v[RF_NAME].s);
	if (!dup_str(c, v[RF_REASON].s, &f->reason))
		return FS_ENOMEM;
	r->nrefused++;
	return FS_OK;
}

static int line_begin(struct rctx *c, char *p)
{
	struct fval v[RB_N];
	int rc = parse_fields(c, p, report_begin_fields, RB_N, v);
	if (rc)
		return rc;
	c->r->elapsed_ns = v[RB_ELAPSED].u;
	c->r->idle_ns = v[RB_IDLE].u;
	c->r->hv_ns = v[RB_HV].u;
	c->r->tsc_hz = v[RB_TSC].u;
	c->want_domains = v[RB_DOMAINS].u;
	c->phase = IN_REPORT;
	c->begin_line = c->line;
	return FS_OK;
}

static struct report_domain *find_domain(struct hv_report *r, uint64_t id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->doms[i].id == id)
			return &r->doms[i];
	return NULL;
}

static int line_domain(struct rctx *c, char *p)
{
	struct fval v[D_N];
	struct hv_report *r = c->r;
	int rc = parse_fields(c, p, domain_fields, D_N, v);
	if (rc)
		return rc;
	const char *st = v[D_STATE].s;
	static const char *const states[] = {"running", "blocked", "exited",
	                                     "killed"};
	size_t k = 0;
	while (k < 4 && strcmp(st, states[k]) != 0)
		k++;
	if (k == 4)
		return fail(c,
		            "state=%s is not running, blocked, exited or "
		            "killed",
		            st);
	if (find_domain(r, v[D_ID].u))
		return fail(c, "domain id=%llu reported twice",
		            (unsigned long long)v[D_ID].u);
	if (grow((void **)&r->doms, &c->cap_doms, r->n, sizeof(*r->doms)))
		return fail(c, "out of memory");
	struct report_domain *d = &r->doms[r->n];
	memset(d, 0, sizeof(*d));
	d->id = v[D_ID].u;
	copy_checked(d->name, sizeof(d->name), v[D_NAME].s);
	copy_checked(d->sched_state, sizeof(d->sched_state), st);
	d->cpu_ns = v[D_CPU].u;
	d->ready_ns = v[D_READY].u;
	d->warped_ns = v[D_WARPED].u;
	d->dispatches = v[D_DISPATCHES].u;
	d->wakeups = v[D_WAKEUPS].u;
	d->hypercalls = v[D_HYPERCALLS].u;
	d->cpu_weight = v[D_WEIGHT].u;
	d->blk_read_ops = v[D_BRO].u;
	d->blk_write_ops = v[D_BWO].u;
	d->blk_read_bytes = v[D_BRB].u;
	d->blk_write_bytes = v[D_BWB].u;
	d->blk_throttled_ns = v[D_BTH].u;
	d->mem_pages = v[D_MP].u;
	d->mem_page_ns = v[D_MPNS].u;
	if (strcmp(v[D_EXIT].s, "-") != 0 &&
	    !dup_str(c, v[D_EXIT].s, &d->exit_reason))
		return FS_ENOMEM;
	r->n++;
	return FS_OK;
}

static int line_kv(struct rctx *c, char *p)
{
	struct fval v[KV_N];
	int rc = parse_fields(c, p, kv_fields, KV_N, v);
	if (rc)
		return rc;
	struct report_domain *d = find_domain(c->r, v[KV_ID].u);
	if (!d)
		return fail(c,
		            "@kv for id=%llu, which no earlier @domain line "
		            "reports",
		            (unsigned long long)v[KV_ID].u);
	for (size_t i = 0; i < d->nkv; i++)
		if (!strcmp(d->kv[i].key, v[KV_KEY].s))
			return fail(c, "key '%s' reported twice for domain %s",
			            v[KV_KEY].s, d->name);
	/* kv arrays are small (FS_REPORT_MAX): grow one at a time */
	struct report_kv *kv = realloc(d->kv, (d->nkv + 1) * sizeof(*kv));
	if (!kv)
		return fail(c, "out of memory");
	d->kv = kv;
	copy_checked(kv[d->nkv].key, sizeof(kv[d->nkv].key), v[KV_KEY].s);
	kv[d->nkv].value = v[KV_VALUE].u;
	d->nkv++;
	return FS_OK;
}

/* A line starting with '@'; trailing CR/LF already removed. */
static int report_line(struct rctx *c, char *s)
{
	char *word = s + 1;
	char *p = word + strcspn(word, " ");
	if (*p)
		*p++ = 0;
	if (c->phase == AFTER_REPORT)
		return fail(c, "'@%s' after @report end", word);
	if (!strcmp(word, "bench"))
		return line_bench(c, p);
	if (!strcmp(word, "refused"))
		return line_refused(c, p);
	if (!strcmp(word, "report")) {
		p = skip_spaces(p);
		char *sub = p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = 0;
		if (!strcmp(sub, "begin")) {
			if (c->phase != BEFORE_REPORT)
				return fail(c,
				            "second @report begin (first on "
				            "line %u)",
				            c->begin_line);
			return line_begin(c, p);
		}
		if (!strcmp(sub, "end")) {
			if (c->phase != IN_REPORT)
				return fail(c, "@report end without @report "
				               "begin");
			if (*skip_spaces(p))
				return fail(c, "@report end takes no fields");
			if (c->want_domains != c->r->n)
				return fail(c,
				            "@report begin announced %llu "
				            "domains, %zu reported",
				            (unsigned long long)c->want_domains,
				            c->r->n);
			c->phase = AFTER_REPORT;
			return FS_OK;
		}
		return fail(c, "expected '@report begin' or '@report end'");
	}
	if (!strcmp(word, "domain") || !strcmp(word, "kv")) {
		if (c->phase != IN_REPORT)
			return fail(c, "@%s outside @report begin .. end",
			            word);
		return word[0] == 'd' ? line_domain(c, p) : line_kv(c, p);
	}
	return fail(c, "unknown report line '@%s'", word);
}

int report_parse(FILE *f, const char *path, struct hv_report *r, char *err,
                 size_t errlen)
{
	memset(r, 0, sizeof(*r));
	struct rctx c = {
	    .r = r,
	    .path = path,
	    .err = err,
	    .errlen = errlen,
	};
	char *buf = NULL;
	size_t cap = 0;
	ssize_t got;
	int rc = FS_OK;
	while (!rc && (got = getline(&buf, &cap, f)) >= 0) {
		c.line++;
		if (buf[0] != '@')
			continue;
		if (memchr(buf, 0, (size_t)got)) {
			rc = fail(&c, "report line holds a NUL byte");
			break;
		}
		size_t n = (size_t)got;
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		rc = report_line(&c, buf);
	}
	if (!rc && ferror(f))
		rc = fail(&c, "read error: %s", strerror(errno));
	free(buf);
	if (!rc && c.phase == BEFORE_REPORT)
		rc = fail(&c, "no report: '@report begin' not found");
	if (!rc && c.phase == IN_REPORT)
		rc = fail(&c,
		          "report truncated: no '@report end' after "
		          "'@report begin' on line %u",
		          c.begin_line);
	if (rc)
		report_free(r);
	return rc;
}

void report_free(struct hv_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->doms[i].exit_reason);
		free(r->doms[i].kv);
	}
	for (size_t i = 0; i < r->nrefused; i++)
		free(r->refused[i].reason);
	free(r->doms);
	free(r->bench);
	free(r->refused);
	memset(r, 0, sizeof(*r));
}

int report_time_adds_up(const struct hv_report *r)
{
	uint64_t sum = r->idle_ns;
	if (__builtin_add_overflow(sum, r->hv_ns, &sum))
		return 0;
	for (size_t i = 0; i < r->n; i++)
		if (__builtin_add_overflow(sum, r->doms[i].cpu_ns, &sum))
			return 0;
	return sum == r->elapsed_ns;
}
