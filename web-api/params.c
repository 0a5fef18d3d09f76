/*
 * Request input: query parameters, times, months, JSON bodies. Everything
 * here refuses rather than guesses: an unknown or repeated parameter, a
 * time without a zone, a body that is not a JSON object or repeats a key.
 */
#include <ctype.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

struct pcheck {
	const char *const *allowed;
	char bad[160];
	const char *seen[8];
	size_t nseen;
};

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
	(void)kind;
	(void)value;
	struct pcheck *pc = cls;
	size_t i;
	for (i = 0; pc->allowed[i] && strcmp(pc->allowed[i], key); i++)
		;
	if (!pc->allowed[i]) {
		snprintf(pc->bad, sizeof(pc->bad),
		         "unknown query parameter '%.64s'", key);
		return MHD_NO;
	}
	for (size_t k = 0; k < pc->nseen; k++)
		if (!strcmp(pc->seen[k], key)) {
			snprintf(pc->bad, sizeof(pc->bad),
			         "query parameter '%.64s' given twice", key);
			return MHD_NO;
		}
	if (pc->nseen < sizeof(pc->seen) / sizeof(pc->seen[0]))
		pc->seen[pc->nseen++] = pc->allowed[i];
	return MHD_YES;
}

int params_only(struct call *c, const char *const *allowed)
{
	struct pcheck pc = {.allowed = allowed};
	MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, check_param,
	                          &pc);
	if (pc.bad[0]) {
		reply_err(c, API_BAD_PARAMETER, "%s", pc.bad);
		return -1;
	}
	return 0;
}

const char *param(struct call *c, const char *name)
{
	return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND,
	                                   name);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned dm[] = {31, 28, 31, 30, 31, 30,
	                              31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

/* n digits at *s into *v. */
static bool digits(const char **s, int n, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		*v = *v * 10 + (unsigned)((*s)[i] - '0');
	}
	*s += n;
	return true;
}

int parse_rfc3339(const char *s, int64_t *unix_s)
{
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	if (!s || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) ||
	    *s++ != '-' || !digits(&s, 2, &d) || (*s != 'T' && *s != 't'))
		return -1;
	s++;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) ||
	    *s++ != ':' || !digits(&s, 2, &sec))
		return -1;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		while (isdigit((unsigned char)*s))
			s++;
	}
	int sign = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-' || *s == ' ') {
		/* ' ': a '+' that arrived unencoded in a query string */
		sign = *s == '-' ? -1 : 1;
		s++;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om))
			return -1;
	} else {
		return -1; /* RFC 3339 needs a zone */
	}
	if (*s || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 ||
	    oh > 23 || om > 59)
		return -1;
	int64_t t =
	    days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	*unix_s = t - sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
}

void format_rfc3339(int64_t unix_s, char *buf, size_t len)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int parse_month(const char *s)
{
	unsigned y, m;
	if (!s || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &m) ||
	    *s || y < 1970 || m < 1 || m > 12)
		return -1;
	return 0;
}

bool ident_valid(const char *s, size_t max)
{
	/* Starts with a letter or digit, so "." and ".." (which clients
	 * and proxies rewrite as path segments) cannot be names. */
	if (!isalnum((unsigned char)s[0]))
		return false;
	size_t n = 0;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && !strchr("_.-", s[n]))
			return false;
	return n <= max;
}

/* The media type of a Content-Type value, without parameters, is t? */
static bool media_is(const char *v, const char *t)
{
	size_t n = strlen(t);
	if (strncasecmp(v, t, n))
		return false;
	v += n;
	while (*v == ' ')
		v++;
	return *v == '\0' || *v == ';';
}

json_t *body_object(struct call *c, bool merge_patch)
{
	const char *ct = MHD_lookup_connection_value(
	    c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct ||
	    !(media_is(ct, "application/json") ||
	      (merge_patch && media_is(ct, "application/merge-patch+json")))) {
		reply_err(
		    c, API_UNSUPPORTED_TYPE,
		    "Content-Type must be application/json%s, got '%.80s'",
		    merge_patch ? " or application/merge-patch+json" : "",
		    ct ? ct : "(none)");
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(c->body ? c->body : "", c->len,
	                       JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		reply_err(c, API_MALFORMED, "not valid JSON: %s (line %d)",
		          je.text, je.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_err(c, API_MALFORMED, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* ---- content negotiation and entity tags -------------------------------- */

/* The q of one Accept element's parameters ("; q=0.5"), in thousandths;
 * 1000 if absent, -1 if malformed. */
static int accept_q(const char *p, const char *end)
{
	while (p < end) {
		p += strspn(p, " \t;");
		if (p >= end)
			break;
		size_t n = strcspn(p, ";");
		if (p + n > end)
			n = (size_t)(end - p);
		if ((p[0] == 'q' || p[0] == 'Q') && n >= 2 && p[1] == '=') {
			/* RFC 9110 qvalue: 0[.ddd] or 1[.000] */
			const char *v = p + 2, *ve = p + n;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (v >= ve || (*v != '0' && *v != '1'))
				return -1;
			int q = (*v - '0') * 1000, scale = 100;
			v++;
			if (v < ve) {
				if (*v++ != '.' || ve - v > 3)
					return -1;
				for (; v < ve; v++, scale /= 10) {
					if (!isdigit((unsigned char)*v))
						return -1;
					q += (*v - '0') * scale;
				}
			}
			return q > 1000 ? -1 : q;
		}
		p += n;
	}
	return 1000;
}

int accept_pick(struct call *c, const char *const *offers)
{
	const char *h = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
	                                            MHD_HTTP_HEADER_ACCEPT);
	if (!h || !h[strspn(h, " \t,")])
		return 0; /* no preference: our first */
	int best = -1, best_q = 0;
	for (int i = 0; offers[i]; i++) {
		const char *slash = strchr(offers[i], '/');
		size_t tlen = (size_t)(slash - offers[i]);
		/* The most specific range that matches decides (RFC 9110
		 * 12.5.1): exact 3, type/any 2, any/any 1. */
		int spec = 0, q = 0;
		for (const char *p = h; *p;) {
			p += strspn(p, " \t,");
			if (!*p)
				break;
			const char *end = p + strcspn(p, ",");
			size_t n = strcspn(p, ";,");
			while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			int s = 0;
			if (n == strlen(offers[i]) &&
			    !strncasecmp(p, offers[i], n))
				s = 3;
			else if (n == tlen + 2 &&
			         !strncasecmp(p, offers[i], tlen) &&
			         !strncmp(p + tlen, "/*", 2))
				s = 2;
			else if (n == 3 && !strncmp(p, "*/*", 3))
				s = 1;
			if (s > spec) {
				int eq = accept_q(p + n, end);
				spec = s;
				q = eq < 0 ? 0 : eq;
			}
			p = end;
		}
		if (q > best_q) {
			best_q = q;
			best = i;
		}
	}
	return best;
}

void etag_of(const json_t *j, char *out, size_t len)
{
	/* FNV-1a (64 bits) of the canonical dump: the same document always
	 * gives the same tag, any change almost surely another. */
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t x = 0xcbf29ce484222325ull;
	for (const char *p = s ? s : ""; *p; p++)
		x = (x ^ (unsigned char)*p) * 0x100000001b3ull;
	free(s);
	snprintf(out, len, "\"%016llx\"", (unsigned long long)x);
}

bool if_match_tag(struct call *c, const char *tag)
{
	const char *h = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
	                                            MHD_HTTP_HEADER_IF_MATCH);
	if (!h)
		return true;
	size_t tl = strlen(tag);
	for (const char *p = h; *p;) {
		p += strspn(p, " \t,");
		if (*p == '*')
			return true;
		size_t n = strcspn(p, ",");
		size_t t = n;
		while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
			t--;
		if (t == tl && !memcmp(p, tag, t))
			return true; /* strong comparison: W/ never matches */
		p += n;
	}
	return false;
}
