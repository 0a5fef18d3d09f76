/*
 * Domain and hypervisor settings: parsing, validation and formatting of the
 * key=value language of domcfg.h. Every message returned through *why is a
 * static string that names the key and the allowed range, so the config tool
 * and the hypervisor log say exactly the same thing.
 */
#include "domcfg.h"

#include "accounting/tb.h"
#include "fs_errors.h"

static int keyeq(const char *k, size_t klen, const char *lit)
{
	size_t i = 0;
	for (; i < klen; i++)
		if (lit[i] != k[i] || !lit[i])
			return 0;
	return lit[i] == 0;
}

int domcfg_value_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
	       c == '/' || c == '+' || c == '-';
}

int domcfg_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-';
}

/* Decimal u64 in [lo, hi]; no sign, no spaces, no overflow. */
static int parse_u64(const char *v, size_t n, uint64_t lo, uint64_t hi,
                     uint64_t *out)
{
	if (n == 0 || n > 20)
		return FS_EINVAL;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return FS_EINVAL;
		uint64_t dgt = (uint64_t)(v[i] - '0');
		if (x > (UINT64_MAX - dgt) / 10)
			return FS_ERANGE;
		x = x * 10 + dgt;
	}
	if (x < lo || x > hi)
		return FS_ERANGE;
	*out = x;
	return FS_OK;
}

static int set_name(char *dst, const char *v, size_t n)
{
	if (n == 0 || n > FS_NAME_MAX)
		return FS_ERANGE;
	for (size_t i = 0; i < n; i++)
		if (!domcfg_name_char(v[i]))
			return FS_EINVAL;
	for (size_t i = 0; i < n; i++)
		dst[i] = v[i];
	dst[n] = 0;
	return FS_OK;
}

static size_t cstrlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

void domcfg_default(struct domain_settings *d)
{
	d->name[0] = 0;
	d->image[0] = 0;
	d->args[0] = 0;
	d->memory_mb = DOMCFG_MEMORY_MB_DEFAULT;
	d->count = 1;
	sched_params_default(&d->sp);
	d->disk_mb = 0;
	d->disk_image[0] = 0;
	d->io = (struct io_limits){0, 0, 0, 0};
	d->mem = (struct mem_limits){0, 0, 0};
	d->memory_max_set = 0;
}

void hvcfg_default(struct hv_settings *h)
{
	h->sc.ctx_allow_us = SCHED_CTX_ALLOW_US_DEFAULT;
	h->run_ms = 0;
	h->loglevel = 2;
	h->bench_native_ms = 0;
	h->poison_free = 0;
	h->meter_interval_ms = HVCFG_METER_MS_DEFAULT;
	h->replay_kb = HVCFG_REPLAY_KB_DEFAULT;
}

#define TP_MAX SCHED_TIME_PARAM_MAX_US

static int num(const char *v, size_t n, uint64_t lo, uint64_t hi, uint64_t *o,
               const char **why, const char *msg)
{
	int rc = parse_u64(v, n, lo, hi, o);
	if (rc)
		*why = msg;
	return rc;
}

/* Append "k=v" (k without the "arg." prefix) to d->args. */
static int add_arg(struct domain_settings *d, const char *k, size_t kl,
                   const char *v, size_t vl, const char **why)
{
	if (kl == 0) {
		*why = "arg.KEY needs a key after 'arg.'";
		return FS_EINVAL;
	}
	for (size_t i = 0; i < kl; i++)
		if (!domcfg_name_char(k[i])) {
			*why = "argument keys are [a-z0-9_-]";
			return FS_EINVAL;
		}
	size_t cur = cstrlen(d->args);
	size_t need = cur + (cur ? 1 : 0) + kl + 1 + vl;
	if (need > FS_ARGS_MAX) {
		*why = "guest arguments longer than 255 characters";
		return FS_E2BIG;
	}
	char *p = d->args + cur;
	if (cur)
		*p++ = ' ';
	for (size_t i = 0; i < kl; i++)
		*p++ = k[i];
	*p++ = '=';
	for (size_t i = 0; i < vl; i++)
		*p++ = v[i];
	*p = 0;
	return FS_OK;
}

int domcfg_set(struct domain_settings *d, const char *key, size_t klen,
               const char *val, size_t vlen, const char **why)
{
	uint64_t x;
	int rc;
	for (size_t i = 0; i < vlen; i++)
		if (!domcfg_value_char(val[i])) {
			*why = "values may hold only A-Z a-z 0-9 _ . : / + -";
			return FS_EINVAL;
		}
	if (klen > 4 && keyeq(key, 4, "arg."))
		return add_arg(d, key + 4, klen - 4, val, vlen, why);
	if (keyeq(key, klen, "name")) {
		rc = set_name(d->name, val, vlen);
		if (rc)
			*why = "name must be 1-31 characters of a-z 0-9 _ -";
		return rc;
	}
	if (keyeq(key, klen, "image")) {
		rc = set_name(d->image, val, vlen);
		if (rc)
			*why = "image must be 1-31 characters of a-z 0-9 _ -";
		return rc;
	}
	if (keyeq(key, klen, "memory_mb")) {
		rc = num(val, vlen, DOMCFG_MEMORY_MB_MIN, DOMCFG_MEMORY_MB_MAX,
		         &x, why, "memory_mb must be an integer 1..65536");
		if (!rc)
			d->memory_mb = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "count")) {
		rc = num(val, vlen, 1, DOMCFG_COUNT_MAX, &x, why,
		         "count must be an integer 1..4096");
		if (!rc)
			d->count = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "cpu_weight")) {
		rc = num(val, vlen, SCHED_WEIGHT_MIN, SCHED_WEIGHT_MAX, &x, why,
		         "cpu_weight must be an integer 1..65535");
		if (!rc)
			d->sp.cpu_weight = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "cpu_cap_pct")) {
		rc = num(val, vlen, 0, 100, &x, why,
		         "cpu_cap_pct must be an integer 0..100 (0: no cap)");
		if (!rc)
			d->sp.cpu_cap_pct = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "warp_us"))
		return num(val, vlen, 0, TP_MAX, &d->sp.warp_us, why,
		           "warp_us must be an integer 0..3600000000");
	if (keyeq(key, klen, "warp_limit_us"))
		return num(val, vlen, 0, TP_MAX, &d->sp.warp_limit_us, why,
		           "warp_limit_us must be an integer 0..3600000000");
	if (keyeq(key, klen, "unwarp_us"))
		return num(val, vlen, 0, TP_MAX, &d->sp.unwarp_us, why,
		           "unwarp_us must be an integer 0..3600000000");
	if (keyeq(key, klen, "disk_mb")) {
		rc = num(val, vlen, 0, DOMCFG_DISK_MB_MAX, &x, why,
		         "disk_mb must be an integer 0..65536 (0: no disk)");
		if (!rc)
			d->disk_mb = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "disk_image")) {
		rc = set_name(d->disk_image, val, vlen);
		if (rc)
			*why = "disk_image must be 1-31 characters of a-z 0-9 _ -";
		return rc;
	}
	if (keyeq(key, klen, "io_bps"))
		return num(val, vlen, 0, TB_RATE_MAX, &d->io.io_bps, why,
		           "io_bps must be an integer 0..12500000000 (0: "
		           "unlimited)");
	if (keyeq(key, klen, "io_iops"))
		return num(val, vlen, 0, TB_RATE_MAX, &d->io.io_iops, why,
		           "io_iops must be an integer 0..12500000000 (0: "
		           "unlimited)");
	if (keyeq(key, klen, "io_burst_bytes"))
		return num(val, vlen, 0, TB_BURST_MAX, &d->io.io_burst_bytes, why,
		           "io_burst_bytes must be an integer 0..1099511627776");
	if (keyeq(key, klen, "io_burst_ops"))
		return num(val, vlen, 0, TB_BURST_MAX, &d->io.io_burst_ops, why,
		           "io_burst_ops must be an integer 0..1099511627776");
	if (keyeq(key, klen, "memory_max_mb")) {
		rc = num(val, vlen, 0, DOMCFG_MEMORY_MB_MAX,
		         &d->mem.memory_max_mb, why,
		         "memory_max_mb must be an integer 0..65536 (0: no "
		         "ceiling)");
		if (!rc)
			d->memory_max_set = 1;
		return rc;
	}
	if (keyeq(key, klen, "mem_growth_pages_per_s"))
		return num(val, vlen, 0, TB_RATE_MAX,
		           &d->mem.mem_growth_pages_per_s, why,
		           "mem_growth_pages_per_s must be an integer "
		           "0..12500000000 (0: unlimited)");
	if (keyeq(key, klen, "mem_growth_burst_pages"))
		return num(val, vlen, 0, TB_BURST_MAX,
		           &d->mem.mem_growth_burst_pages, why,
		           "mem_growth_burst_pages must be an integer "
		           "0..1099511627776");
	*why = "unknown domain key (known: name image memory_mb count cpu_weight "
	       "cpu_cap_pct warp_us warp_limit_us unwarp_us disk_mb disk_image "
	       "io_bps io_iops io_burst_bytes io_burst_ops memory_max_mb "
	       "mem_growth_pages_per_s mem_growth_burst_pages arg.KEY)";
	return FS_ENOENT;
}

int hvcfg_set(struct hv_settings *h, const char *key, size_t klen,
              const char *val, size_t vlen, const char **why)
{
	uint64_t x;
	int rc;
	if (keyeq(key, klen, "ctx_allow_us"))
		return num(val, vlen, 0, TP_MAX, &h->sc.ctx_allow_us, why,
		           "ctx_allow_us must be an integer 0..3600000000");
	if (keyeq(key, klen, "run_ms"))
		return num(val, vlen, 0, 31ull * 24 * 3600 * 1000, &h->run_ms,
		           why, "run_ms must be an integer 0..2678400000 "
		                "(0: until shut down)");
	if (keyeq(key, klen, "loglevel")) {
		rc = num(val, vlen, 0, 3, &x, why,
		         "loglevel must be 0 (error) .. 3 (debug)");
		if (!rc)
			h->loglevel = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "bench_native_ms")) {
		rc = num(val, vlen, 0, 60000, &x, why,
		         "bench_native_ms must be an integer 0..60000");
		if (!rc)
			h->bench_native_ms = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "poison_free")) {
		rc = num(val, vlen, 0, 1, &x, why, "poison_free must be 0 or 1");
		if (!rc)
			h->poison_free = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "meter_interval_ms")) {
		rc = num(val, vlen, 10, 3600000, &x, why,
		         "meter_interval_ms must be an integer 10..3600000");
		if (!rc)
			h->meter_interval_ms = (uint32_t)x;
		return rc;
	}
	if (keyeq(key, klen, "replay_kb")) {
		rc = num(val, vlen, 64, HVCFG_REPLAY_KB_MAX, &x, why,
		         "replay_kb must be an integer 64..4096");
		if (!rc)
			h->replay_kb = (uint32_t)x;
		return rc;
	}
	*why = "unknown hypervisor key (known: ctx_allow_us run_ms loglevel "
	       "bench_native_ms poison_free meter_interval_ms replay_kb)";
	return FS_ENOENT;
}

int domcfg_check(const struct domain_settings *d, const char **why)
{
	if (!d->name[0]) {
		*why = "a domain needs a name";
		return FS_EINVAL;
	}
	/* The longest instance name, NAME-<count>, must still fit. */
	char longest[FS_NAME_MAX + 16];
	if (domcfg_instance_name(d, d->count, longest, sizeof(longest)) < 0) {
		*why = "name too long for count: NAME-N must fit 31 characters";
		return FS_ERANGE;
	}
	if (sched_params_check(&d->sp)) {
		*why = "scheduler parameters out of range";
		return FS_ERANGE;
	}
	if (domcfg_io_check(&d->io, why) || domcfg_mem_check(&d->mem, why))
		return FS_ERANGE;
	if (d->memory_max_set && d->mem.memory_max_mb &&
	    d->mem.memory_max_mb < d->memory_mb) {
		*why = "memory_max_mb is below memory_mb (0: no ceiling)";
		return FS_ERANGE;
	}
	if (d->disk_image[0] && !d->disk_mb) {
		*why = "disk_image needs disk_mb (the disk's size)";
		return FS_EINVAL;
	}
	return FS_OK;
}

int domcfg_io_check(const struct io_limits *io, const char **why)
{
	if (io->io_bps > TB_RATE_MAX || io->io_iops > TB_RATE_MAX) {
		*why = "io_bps and io_iops must be 0..12500000000";
		return FS_ERANGE;
	}
	if (io->io_burst_bytes > TB_BURST_MAX ||
	    io->io_burst_ops > TB_BURST_MAX) {
		*why = "io_burst_bytes and io_burst_ops must be 0..2^40";
		return FS_ERANGE;
	}
	return FS_OK;
}

int domcfg_mem_check(const struct mem_limits *m, const char **why)
{
	if (m->memory_max_mb > DOMCFG_MEMORY_MB_MAX) {
		*why = "memory_max_mb must be 0..65536";
		return FS_ERANGE;
	}
	if (m->mem_growth_pages_per_s > TB_RATE_MAX ||
	    m->mem_growth_burst_pages > TB_BURST_MAX) {
		*why = "mem_growth_pages_per_s must be 0..12500000000 and "
		       "mem_growth_burst_pages 0..2^40";
		return FS_ERANGE;
	}
	return FS_OK;
}

typedef int (*set_fn)(void *obj, const char *k, size_t kl, const char *v,
                      size_t vl, const char **why);

static int set_dom(void *o, const char *k, size_t kl, const char *v,
                   size_t vl, const char **why)
{
	return domcfg_set(o, k, kl, v, vl, why);
}

static int set_hv(void *o, const char *k, size_t kl, const char *v, size_t vl,
                  const char **why)
{
	return hvcfg_set(o, k, kl, v, vl, why);
}

static int parse_line(void *obj, set_fn set, const char *line,
                      const char **why, size_t *bad_off)
{
	size_t i = 0;
	*bad_off = 0;
	while (line[i]) {
		while (line[i] == ' ' || line[i] == '\t')
			i++;
		if (!line[i])
			break;
		size_t start = i, eq = 0;
		while (line[i] && line[i] != ' ' && line[i] != '\t') {
			if (line[i] == '=' && !eq)
				eq = i;
			i++;
		}
		if (i - start > DOMCFG_CMDLINE_MAX) {
			*why = "token too long";
			*bad_off = start;
			return FS_E2BIG;
		}
		if (!eq)
			continue; /* the module path */
		if (eq == start) {
			*why = "empty key";
			*bad_off = start;
			return FS_EINVAL;
		}
		int rc = set(obj, line + start, eq - start, line + eq + 1,
		             i - eq - 1, why);
		if (rc) {
			*bad_off = start;
			return rc;
		}
	}
	return FS_OK;
}

int domcfg_parse_cmdline(struct domain_settings *d, const char *line,
                         const char **why, size_t *bad_off)
{
	int rc = parse_line(d, set_dom, line, why, bad_off);
	if (rc)
		return rc;
	*bad_off = 0;
	return domcfg_check(d, why);
}

int hvcfg_parse_cmdline(struct hv_settings *h, const char *line,
                        const char **why, size_t *bad_off)
{
	return parse_line(h, set_hv, line, why, bad_off);
}

/* Bounded string builder: records overflow instead of writing past len. */
struct sb {
	char *buf;
	size_t len, pos;
};

static void sb_str(struct sb *b, const char *s)
{
	for (; *s; s++) {
		if (b->pos + 1 < b->len)
			b->buf[b->pos] = *s;
		b->pos++;
	}
}

static void sb_u64(struct sb *b, uint64_t x)
{
	char tmp[21];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	char out[22];
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = 0;
	sb_str(b, out);
}

static void sb_kv(struct sb *b, const char *k, uint64_t v)
{
	if (b->pos)
		sb_str(b, " ");
	sb_str(b, k);
	sb_str(b, "=");
	sb_u64(b, v);
}

static int sb_end(struct sb *b)
{
	if (b->len == 0)
		return FS_E2BIG;
	if (b->pos + 1 > b->len) {
		b->buf[b->len - 1] = 0;
		return FS_E2BIG;
	}
	b->buf[b->pos] = 0;
	return (int)b->pos;
}

static uint32_t ndigits(uint64_t x)
{
	uint32_t n = 1;
	while (x >= 10) {
		x /= 10;
		n++;
	}
	return n;
}

int domcfg_instance_name(const struct domain_settings *d, uint32_t k,
                         char *buf, size_t len)
{
	struct sb b = {buf, len, 0};
	sb_str(&b, d->name);
	if (d->count > 1) {
		sb_str(&b, "-");
		for (uint32_t i = ndigits(k); i < ndigits(d->count); i++)
			sb_str(&b, "0");
		sb_u64(&b, k);
	}
	int n = sb_end(&b);
	if (n >= 0 && (size_t)n > FS_NAME_MAX)
		return FS_ERANGE;
	return n;
}

int domcfg_format_cmdline(const struct domain_settings *d, char *buf,
                          size_t len)
{
	struct sb b = {buf, len, 0};
	sb_str(&b, "name=");
	sb_str(&b, d->name);
	if (d->image[0]) {
		sb_str(&b, " image=");
		sb_str(&b, d->image);
	}
	sb_kv(&b, "memory_mb", d->memory_mb);
	if (d->count > 1)
		sb_kv(&b, "count", d->count);
	sb_kv(&b, "cpu_weight", d->sp.cpu_weight);
	sb_kv(&b, "cpu_cap_pct", d->sp.cpu_cap_pct);
	sb_kv(&b, "warp_us", d->sp.warp_us);
	sb_kv(&b, "warp_limit_us", d->sp.warp_limit_us);
	sb_kv(&b, "unwarp_us", d->sp.unwarp_us);
	if (d->disk_mb)
		sb_kv(&b, "disk_mb", d->disk_mb);
	if (d->disk_image[0]) {
		sb_str(&b, " disk_image=");
		sb_str(&b, d->disk_image);
	}
	if (d->io.io_bps)
		sb_kv(&b, "io_bps", d->io.io_bps);
	if (d->io.io_iops)
		sb_kv(&b, "io_iops", d->io.io_iops);
	if (d->io.io_burst_bytes)
		sb_kv(&b, "io_burst_bytes", d->io.io_burst_bytes);
	if (d->io.io_burst_ops)
		sb_kv(&b, "io_burst_ops", d->io.io_burst_ops);
	if (d->memory_max_set)
		sb_kv(&b, "memory_max_mb", d->mem.memory_max_mb);
	if (d->mem.mem_growth_pages_per_s)
		sb_kv(&b, "mem_growth_pages_per_s",
		      d->mem.mem_growth_pages_per_s);
	if (d->mem.mem_growth_burst_pages)
		sb_kv(&b, "mem_growth_burst_pages",
		      d->mem.mem_growth_burst_pages);
	/* args are "k=v k=v": each token becomes arg.k=v */
	const char *a = d->args;
	while (*a) {
		while (*a == ' ')
			a++;
		if (!*a)
			break;
		sb_str(&b, " arg.");
		while (*a && *a != ' ') {
			char c[2] = {*a++, 0};
			sb_str(&b, c);
		}
	}
	return sb_end(&b);
}

int hvcfg_format_cmdline(const struct hv_settings *h, char *buf, size_t len)
{
	struct sb b = {buf, len, 0};
	sb_kv(&b, "ctx_allow_us", h->sc.ctx_allow_us);
	sb_kv(&b, "run_ms", h->run_ms);
	sb_kv(&b, "loglevel", h->loglevel);
	if (h->bench_native_ms)
		sb_kv(&b, "bench_native_ms", h->bench_native_ms);
	if (h->poison_free)
		sb_kv(&b, "poison_free", h->poison_free);
	if (h->meter_interval_ms != HVCFG_METER_MS_DEFAULT)
		sb_kv(&b, "meter_interval_ms", h->meter_interval_ms);
	if (h->replay_kb != HVCFG_REPLAY_KB_DEFAULT)
		sb_kv(&b, "replay_kb", h->replay_kb);
	return sb_end(&b);
}
