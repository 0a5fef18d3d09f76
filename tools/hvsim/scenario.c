/*
 * Scenario file parser. Strict on purpose: a hosting provider asking "what
 * if I sell these slices" must not get an answer for a scenario that differs
 * from the one they wrote because a typo was silently ignored.
 */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/tb.h"
#include "fs_errors.h"
#include "tools/common/err_at.h"

struct pctx {
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

static int fail(struct pctx *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr_at(p->err, p->errlen, p->file, p->line, fmt, ap);
	va_end(ap);
	return -1;
}

const char *workload_name(enum workload wl)
{
	switch (wl) {
	case WL_CPU:
		return "cpu";
	case WL_PERIODIC:
		return "periodic";
	case WL_ONOFF:
		return "onoff";
	case WL_IO:
		return "io";
	}
	return "?";
}

void scenario_init(struct scenario *sc)
{
	*sc = (struct scenario){
		.duration_ms = 10000,
		.cfg = { .ctx_allow_us = SCHED_CTX_ALLOW_US_DEFAULT },
	};
}

void scn_domain_defaults(struct scn_domain *d)
{
	sched_params_default(&d->sp);
	d->io.mix_read_pct = 100;
	d->io.queue_depth = 1;
	d->io.cpu_us = 5;
	d->io.latency_us = 100;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

uint64_t scn_io_capacity_bytes(const struct scn_io *io)
{
	return max_u64(io->req_bytes, io->bps * SCN_IO_BUCKET_MS / 1000);
}

uint64_t scn_io_capacity_ops(const struct scn_io *io)
{
	return max_u64(1, io->iops * SCN_IO_BUCKET_MS / 1000);
}

int scenario_reserve(struct scenario *sc, size_t cap)
{
	if (cap <= sc->cap)
		return 0;
	struct scn_domain *nd = realloc(sc->doms, cap * sizeof(*nd));
	if (!nd)
		return -1;
	sc->doms = nd;
	sc->cap = cap;
	return 0;
}

void scenario_free(struct scenario *sc)
{
	free(sc->doms);
	sc->doms = NULL;
	sc->n = sc->cap = 0;
}

/* Decimal u64, no sign, no trailing garbage, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SCN_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		      *s == '.'))
			return false;
	return true;
}

/* Keys of a domain line: where the value goes, its range, and which
 * workloads accept it (bit per enum workload; ALL for scheduler keys). */
#define ALL 0xfu
#define BIT(w) (1u << (w))
struct key {
	const char *name;
	size_t off; /* into struct scn_domain */
	bool u32;
	uint64_t min, max;
	unsigned workloads;
};

#define SP(f) (offsetof(struct scn_domain, sp) + offsetof(struct sched_params, f))
static const struct key keys[] = {
	{ "cpu_weight", SP(cpu_weight), true, SCHED_WEIGHT_MIN,
	  SCHED_WEIGHT_MAX, ALL },
	{ "cpu_cap_pct", SP(cpu_cap_pct), true, 0, 100, ALL },
	{ "warp_us", SP(warp_us), false, 0, SCHED_TIME_PARAM_MAX_US, ALL },
	{ "warp_limit_us", SP(warp_limit_us), false, 0,
	  SCHED_TIME_PARAM_MAX_US, ALL },
	{ "unwarp_us", SP(unwarp_us), false, 0, SCHED_TIME_PARAM_MAX_US, ALL },
	{ "period_us", offsetof(struct scn_domain, period_us), false, 1,
	  SCHED_TIME_PARAM_MAX_US, BIT(WL_PERIODIC) },
	{ "burst_us", offsetof(struct scn_domain, burst_us), false, 1,
	  SCHED_TIME_PARAM_MAX_US, BIT(WL_PERIODIC) },
	{ "phase_us", offsetof(struct scn_domain, phase_us), false, 0,
	  SCHED_TIME_PARAM_MAX_US, BIT(WL_PERIODIC) },
	{ "on_us", offsetof(struct scn_domain, on_us), false, 1,
	  SCHED_TIME_PARAM_MAX_US, BIT(WL_ONOFF) },
	{ "off_us", offsetof(struct scn_domain, off_us), false, 1,
	  SCHED_TIME_PARAM_MAX_US, BIT(WL_ONOFF) },
#define IO(f) (offsetof(struct scn_domain, io) + offsetof(struct scn_io, f))
	{ "req_bytes", IO(req_bytes), false, SCN_REQ_BYTES_MIN,
	  SCN_REQ_BYTES_MAX, BIT(WL_IO) },
	{ "io_bps", IO(bps), false, 0, TB_RATE_MAX, BIT(WL_IO) },
	{ "io_iops", IO(iops), false, 0, TB_RATE_MAX, BIT(WL_IO) },
	{ "io_burst_bytes", IO(burst_bytes), false, 0, TB_BURST_MAX,
	  BIT(WL_IO) },
	{ "io_burst_ops", IO(burst_ops), false, 0, TB_BURST_MAX, BIT(WL_IO) },
	{ "io_mix", IO(mix_read_pct), false, 0, 100, BIT(WL_IO) },
	{ "queue_depth", IO(queue_depth), false, 1, SCN_QUEUE_DEPTH_MAX,
	  BIT(WL_IO) },
	{ "io_cpu_us", IO(cpu_us), false, 0, SCN_IO_TIME_MAX_US, BIT(WL_IO) },
	{ "disk_latency_us", IO(latency_us), false, 0, SCN_IO_TIME_MAX_US,
	  BIT(WL_IO) },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Which workload keys are required. */
static const char *const required[][3] = {
	[WL_CPU] = { 0 },
	[WL_PERIODIC] = { "period_us", "burst_us", 0 },
	[WL_ONOFF] = { "on_us", "off_us", 0 },
	[WL_IO] = { "req_bytes", 0 },
};

static uint64_t key_value(const struct scn_domain *d, const struct key *k)
{
	const char *src = (const char *)d + k->off;
	if (k->u32) {
		uint32_t v32;
		memcpy(&v32, src, sizeof(v32));
		return v32;
	}
	uint64_t v;
	memcpy(&v, src, sizeof(v));
	return v;
}

/* The io-only checks, for parsed and programmatic domains alike: every io
 * key in range (the parser has checked already; scenario_add() has not),
 * then the rules that involve more than one key. */
static int validate_io(struct pctx *p, const struct scn_domain *d)
{
	const struct scn_io *io = &d->io;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].workloads != BIT(WL_IO))
			continue;
		uint64_t v = key_value(d, &keys[i]);
		if (v < keys[i].min || v > keys[i].max)
			return fail(p, "%s=%llu out of range %llu..%llu",
			            keys[i].name, (unsigned long long)v,
			            (unsigned long long)keys[i].min,
			            (unsigned long long)keys[i].max);
	}
	if (io->req_bytes % 512)
		return fail(p, "req_bytes=%llu is not a multiple of 512",
		            (unsigned long long)io->req_bytes);
	if (io->burst_bytes && !io->bps)
		return fail(p, "io_burst_bytes needs io_bps (an unlimited "
		               "bucket has no burst)");
	if (io->burst_ops && !io->iops)
		return fail(p, "io_burst_ops needs io_iops (an unlimited "
		               "bucket has no burst)");
	if (!io->bps && !io->iops && !io->cpu_us && !io->latency_us)
		return fail(p, "io_cpu_us=0 and disk_latency_us=0 with no "
		               "io_bps or io_iops limit: requests would "
		               "complete without end in zero time");
	return 0;
}

static int validate(struct pctx *p, const struct scenario *sc,
                    const struct scn_domain *d)
{
	if (!name_ok(d->name))
		return fail(p, "domain name '%s' must be 1..%d characters of "
		               "[A-Za-z0-9_.-]", d->name, SCN_NAME_MAX);
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->doms[i].name, d->name) == 0)
			return fail(p, "duplicate domain name '%s' (first "
			               "defined on line %u)", d->name,
			            sc->doms[i].line);
	if (sched_params_check(&d->sp) != FS_OK)
		return fail(p, "scheduler parameters out of range");
	if (d->wl == WL_IO && validate_io(p, d))
		return -1;
	if (d->wl == WL_PERIODIC && d->burst_us > d->period_us)
		return fail(p, "burst_us (%llu) exceeds period_us (%llu): the "
		               "domain could never block",
		            (unsigned long long)d->burst_us,
		            (unsigned long long)d->period_us);
	return 0;
}

static int add_domain(struct pctx *p, struct scenario *sc,
                      const struct scn_domain *d)
{
	if (validate(p, sc, d))
		return -1;
	if (sc->n == sc->cap) {
		size_t ncap = sc->cap ? sc->cap * 2 : 16;
		struct scn_domain *nd = realloc(sc->doms, ncap * sizeof(*nd));
		if (!nd)
			return fail(p, "out of memory");
		sc->doms = nd;
		sc->cap = ncap;
	}
	sc->doms[sc->n++] = *d;
	return 0;
}

int scenario_add(struct scenario *sc, const struct scn_domain *d, char *err,
                 size_t errlen)
{
	struct pctx p = { .file = "scenario", .line = d->line, .err = err,
		          .errlen = errlen };
	return add_domain(&p, sc, d);
}

static int parse_domain(struct pctx *p, struct scenario *sc, char *rest)
{
	struct scn_domain d = { .line = p->line };
	scn_domain_defaults(&d);
	bool seen[NKEYS] = { false }, have_name = false, have_wl = false;
	char *save = NULL;
	for (char *tok = strtok_r(rest, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok)
			return fail(p, "expected key=value, got '%s'", tok);
		*eq = '\0';
		const char *k = tok, *v = eq + 1;
		if (strcmp(k, "name") == 0) {
			if (have_name)
				return fail(p, "key 'name' given twice");
			have_name = true;
			if (strlen(v) > SCN_NAME_MAX)
				return fail(p, "domain name '%s' longer than "
				               "%d characters", v, SCN_NAME_MAX);
			strcpy(d.name, v);
			continue;
		}
		if (strcmp(k, "workload") == 0) {
			if (have_wl)
				return fail(p, "key 'workload' given twice");
			have_wl = true;
			if (strcmp(v, "cpu") == 0)
				d.wl = WL_CPU;
			else if (strcmp(v, "periodic") == 0)
				d.wl = WL_PERIODIC;
			else if (strcmp(v, "onoff") == 0)
				d.wl = WL_ONOFF;
			else if (strcmp(v, "io") == 0)
				d.wl = WL_IO;
			else
				return fail(p, "unknown workload '%s' (expected "
				               "cpu, periodic, onoff or io)", v);
			continue;
		}
		size_t i;
		for (i = 0; i < NKEYS && strcmp(keys[i].name, k) != 0; i++)
			;
		if (i == NKEYS)
			return fail(p, "unknown key '%s'", k);
		if (seen[i])
			return fail(p, "key '%s' given twice", k);
		seen[i] = true;
		uint64_t val;
		if (parse_u64(v, &val))
			return fail(p, "%s: '%s' is not a non-negative decimal "
			               "integer", k, v);
		if (val < keys[i].min || val > keys[i].max)
			return fail(p, "%s=%llu out of range %llu..%llu", k,
			            (unsigned long long)val,
			            (unsigned long long)keys[i].min,
			            (unsigned long long)keys[i].max);
		char *dst = (char *)&d + keys[i].off;
		if (keys[i].u32) {
			uint32_t v32 = (uint32_t)val;
			memcpy(dst, &v32, sizeof(v32));
		} else {
			memcpy(dst, &val, sizeof(val));
		}
	}
	if (!have_name)
		return fail(p, "domain line without name=");
	if (!have_wl)
		return fail(p, "domain '%s' without workload=", d.name);
	for (size_t i = 0; i < NKEYS; i++)
		if (seen[i] && !(keys[i].workloads & BIT(d.wl)))
			return fail(p, "key '%s' does not apply to workload %s",
			            keys[i].name, workload_name(d.wl));
	for (const char *const *r = required[d.wl]; *r; r++) {
		size_t i;
		for (i = 0; strcmp(keys[i].name, *r) != 0; i++)
			;
		if (!seen[i])
			return fail(p, "workload %s needs %s=", 
			            workload_name(d.wl), *r);
	}
	return add_domain(p, sc, &d);
}

static int parse_global(struct pctx *p, const char *k, char *rest,
                        uint64_t *dst, uint64_t min, uint64_t max, bool *seen)
{
	char *save = NULL;
	char *v = strtok_r(rest, " \t", &save);
	if (!v)
		return fail(p, "%s needs a value", k);
	if (strtok_r(NULL, " \t", &save))
		return fail(p, "%s takes exactly one value", k);
	if (*seen)
		return fail(p, "%s given twice", k);
	*seen = true;
	uint64_t val;
	if (parse_u64(v, &val))
		return fail(p, "%s: '%s' is not a non-negative decimal integer",
		            k, v);
	if (val < min || val > max)
		return fail(p, "%s=%llu out of range %llu..%llu", k,
		            (unsigned long long)val, (unsigned long long)min,
		            (unsigned long long)max);
	*dst = val;
	return 0;
}

int scenario_parse(const char *text, const char *file, struct scenario *sc,
                   char *err, size_t errlen)
{
	scenario_init(sc);
	struct pctx p = { .file = file, .err = err, .errlen = errlen };
	bool seen_dur = false, seen_ctx = false;
	const char *s = text;
	while (*s) {
		p.line++;
		const char *eol = strchr(s, '\n');
		size_t len = eol ? (size_t)(eol - s) : strlen(s);
		char *line = strndup(s, len);
		if (!line)
			return fail(&p, "out of memory");
		s += len + (eol ? 1 : 0);
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL;
		char *cmd = strtok_r(line, " \t\r", &save);
		char *rest = save ? save : line + strlen(line);
		int rc = 0;
		if (!cmd)
			rc = 0;
		else if (strcmp(cmd, "duration_ms") == 0)
			rc = parse_global(&p, cmd, rest, &sc->duration_ms, 1,
			                  SCN_DURATION_MAX_MS, &seen_dur);
		else if (strcmp(cmd, "ctx_allow_us") == 0)
			rc = parse_global(&p, cmd, rest, &sc->cfg.ctx_allow_us,
			                  0, SCHED_TIME_PARAM_MAX_US, &seen_ctx);
		else if (strcmp(cmd, "domain") == 0)
			rc = parse_domain(&p, sc, rest);
		else
			rc = fail(&p, "unknown directive '%s' (expected "
			              "duration_ms, ctx_allow_us or domain)", cmd);
		free(line);
		if (rc)
			return -1;
	}
	if (sc->n == 0) {
		p.line = p.line ? p.line : 1;
		return fail(&p, "no domain lines: nothing to simulate");
	}
	return 0;
}

int scenario_load(const char *path, struct scenario *sc, char *err,
                  size_t errlen)
{
	scenario_init(sc);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return -1;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad || memchr(buf, '\0', len)) {
		snprintf(err, errlen, "%s: %s", path,
		         bad ? "read error" : "contains a NUL byte: not a text file");
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	int rc = scenario_parse(buf, path, sc, err, errlen);
	free(buf);
	return rc;
}
