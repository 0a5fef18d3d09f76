/*
 * Per-domain settable keys: one table, see kv.h.
 */
#include "kv.h"

#include <stdio.h>
#include <string.h>

#include "accounting/tb.h"

struct kv_desc {
	const char *name;
	enum kv_group group;
	uint64_t min, max;
};

/* clang-format off */
static const struct kv_desc keys[KV_NKEYS] = {
	[KV_CPU_WEIGHT]    = {"cpu_weight", KV_G_SCHED, WIRE_WEIGHT_MIN, WIRE_WEIGHT_MAX},
	[KV_CPU_CAP_PCT]   = {"cpu_cap_pct", KV_G_SCHED, 0, WIRE_CAP_PCT_MAX},
	[KV_WARP_US]       = {"warp_us", KV_G_SCHED, 0, WIRE_TIME_PARAM_MAX_US},
	[KV_WARP_LIMIT_US] = {"warp_limit_us", KV_G_SCHED, 0, WIRE_TIME_PARAM_MAX_US},
	[KV_UNWARP_US]     = {"unwarp_us", KV_G_SCHED, 0, WIRE_TIME_PARAM_MAX_US},
	[KV_IO_BPS]        = {"io_bps", KV_G_IO, 0, TB_RATE_MAX},
	[KV_IO_IOPS]       = {"io_iops", KV_G_IO, 0, TB_RATE_MAX},
	[KV_IO_BURST_BYTES] = {"io_burst_bytes", KV_G_IO, 0, TB_BURST_MAX},
	[KV_IO_BURST_OPS]  = {"io_burst_ops", KV_G_IO, 0, TB_BURST_MAX},
	[KV_MEMORY_MAX_MB] = {"memory_max_mb", KV_G_MEM, 0, 65536},
	[KV_MEM_GROWTH_PAGES_PER_S] = {"mem_growth_pages_per_s", KV_G_MEM, 0, TB_RATE_MAX},
	[KV_MEM_GROWTH_BURST_PAGES] = {"mem_growth_burst_pages", KV_G_MEM, 0, TB_BURST_MAX},
	[KV_MEMORY_MB]     = {"memory_mb", KV_G_CREATE, 1, 65536},
};
/* clang-format on */

const char *kv_name(unsigned k)
{
	return k < KV_NKEYS ? keys[k].name : "?";
}

enum kv_group kv_group_of(unsigned k)
{
	return keys[k].group;
}

int kv_lookup(const char *name)
{
	for (unsigned k = 0; k < KV_NKEYS; k++)
		if (strcmp(keys[k].name, name) == 0)
			return (int)k;
	return -1;
}

void kv_range(unsigned k, uint64_t *min, uint64_t *max)
{
	*min = keys[k].min;
	*max = keys[k].max;
}

int kv_set(struct kv_params *p, unsigned k, uint64_t v, char *err,
           size_t errlen)
{
	if (v < keys[k].min || v > keys[k].max) {
		snprintf(err, errlen, "%s=%llu out of range %llu..%llu",
		         keys[k].name, (unsigned long long)v,
		         (unsigned long long)keys[k].min,
		         (unsigned long long)keys[k].max);
		return -1;
	}
	p->v[k] = v;
	p->set |= 1u << k;
	return 0;
}

int kv_parse(struct kv_params *p, const char *word, unsigned groups, char *err,
             size_t errlen)
{
	const char *eq = strchr(word, '=');
	char name[40];
	if (!eq || eq == word || (size_t)(eq - word) >= sizeof(name)) {
		snprintf(err, errlen, "expected key=value, got '%s'", word);
		return -1;
	}
	memcpy(name, word, (size_t)(eq - word));
	name[eq - word] = '\0';
	int k = kv_lookup(name);
	if (k < 0 || !(keys[k].group & groups)) {
		snprintf(err, errlen, "unknown key '%s'", name);
		return -1;
	}
	const char *s = eq + 1;
	uint64_t v = 0;
	if (!*s)
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			goto bad;
		v = v * 10 + d;
	}
	return kv_set(p, (unsigned)k, v, err, errlen);
bad:
	snprintf(err, errlen, "%s: '%s' is not a non-negative integer", name,
	         eq + 1);
	return -1;
}

bool kv_has(const struct kv_params *p, enum kv_group g)
{
	for (unsigned k = 0; k < KV_NKEYS; k++)
		if ((p->set & (1u << k)) && keys[k].group == g)
			return true;
	return false;
}

#define GIVEN(p, k) ((p)->set & (1u << (k)))

void kv_apply_sched(const struct kv_params *p, struct wire_sched_params *s)
{
	if (GIVEN(p, KV_CPU_WEIGHT))
		s->cpu_weight = (uint32_t)p->v[KV_CPU_WEIGHT];
	if (GIVEN(p, KV_CPU_CAP_PCT))
		s->cpu_cap_pct = (uint32_t)p->v[KV_CPU_CAP_PCT];
	if (GIVEN(p, KV_WARP_US))
		s->warp_us = p->v[KV_WARP_US];
	if (GIVEN(p, KV_WARP_LIMIT_US))
		s->warp_limit_us = p->v[KV_WARP_LIMIT_US];
	if (GIVEN(p, KV_UNWARP_US))
		s->unwarp_us = p->v[KV_UNWARP_US];
}

void kv_apply_io(const struct kv_params *p, struct wire_io_limits *io)
{
	if (GIVEN(p, KV_IO_BPS))
		io->io_bps = p->v[KV_IO_BPS];
	if (GIVEN(p, KV_IO_IOPS))
		io->io_iops = p->v[KV_IO_IOPS];
	if (GIVEN(p, KV_IO_BURST_BYTES))
		io->io_burst_bytes = p->v[KV_IO_BURST_BYTES];
	if (GIVEN(p, KV_IO_BURST_OPS))
		io->io_burst_ops = p->v[KV_IO_BURST_OPS];
}

void kv_apply_mem(const struct kv_params *p, struct wire_mem_limits *m)
{
	if (GIVEN(p, KV_MEMORY_MAX_MB))
		m->memory_max_mb = p->v[KV_MEMORY_MAX_MB];
	if (GIVEN(p, KV_MEM_GROWTH_PAGES_PER_S))
		m->mem_growth_pages_per_s = p->v[KV_MEM_GROWTH_PAGES_PER_S];
	if (GIVEN(p, KV_MEM_GROWTH_BURST_PAGES))
		m->mem_growth_burst_pages = p->v[KV_MEM_GROWTH_BURST_PAGES];
}

void kv_from_domain(const struct wire_domain *d, struct kv_params *p)
{
	p->v[KV_CPU_WEIGHT] = d->sched.cpu_weight;
	p->v[KV_CPU_CAP_PCT] = d->sched.cpu_cap_pct;
	p->v[KV_WARP_US] = d->sched.warp_us;
	p->v[KV_WARP_LIMIT_US] = d->sched.warp_limit_us;
	p->v[KV_UNWARP_US] = d->sched.unwarp_us;
	p->v[KV_IO_BPS] = d->io.io_bps;
	p->v[KV_IO_IOPS] = d->io.io_iops;
	p->v[KV_IO_BURST_BYTES] = d->io.io_burst_bytes;
	p->v[KV_IO_BURST_OPS] = d->io.io_burst_ops;
	p->v[KV_MEMORY_MAX_MB] = d->mem.memory_max_mb;
	p->v[KV_MEM_GROWTH_PAGES_PER_S] = d->mem.mem_growth_pages_per_s;
	p->v[KV_MEM_GROWTH_BURST_PAGES] = d->mem.mem_growth_burst_pages;
	p->v[KV_MEMORY_MB] = d->memory_mb;
	p->set = (1u << KV_NKEYS) - 1;
}
