/*
 * Usage counters: generic field access, the memory integral, and deltas.
 *
 * Fields are reached through one table of names and offsets, in struct order,
 * so tools and the wire format iterate them without knowing the struct and a
 * field added to the struct but not the table fails to compile (the static
 * assertions below). The delta rules favour never inventing usage: a reset
 * (new boot, or a counter that went backwards) bills the current value, never
 * a negative or wrapped-around difference. The one exception is mem_page_ns,
 * which wraps in normal operation and is therefore differenced modulo 2^64.
 */
#include <stddef.h>

#include "counters.h"

#include "fs_assert.h"
#include "fs_errors.h"

struct usage_field_desc {
	const char *name;
	size_t offset;
};

/* clang-format off */
static const struct usage_field_desc usage_fields[USAGE_NFIELDS] = {
	{"cpu_ns",           offsetof(struct usage_counters, cpu_ns)},
	{"ready_ns",         offsetof(struct usage_counters, ready_ns)},
	{"cap_throttled_ns", offsetof(struct usage_counters, cap_throttled_ns)},
	{"warped_ns",        offsetof(struct usage_counters, warped_ns)},
	{"dispatches",       offsetof(struct usage_counters, dispatches)},
	{"wakeups",          offsetof(struct usage_counters, wakeups)},
	{"hypercalls",       offsetof(struct usage_counters, hypercalls)},
	{"blk_read_ops",     offsetof(struct usage_counters, blk_read_ops)},
	{"blk_write_ops",    offsetof(struct usage_counters, blk_write_ops)},
	{"blk_read_bytes",   offsetof(struct usage_counters, blk_read_bytes)},
	{"blk_write_bytes",  offsetof(struct usage_counters, blk_write_bytes)},
	{"blk_throttled_ns", offsetof(struct usage_counters, blk_throttled_ns)},
	{"mem_pages",        offsetof(struct usage_counters, mem_pages)},
	{"mem_page_ns",      offsetof(struct usage_counters, mem_page_ns)},
};
/* clang-format on */

_Static_assert(sizeof(usage_fields) / sizeof(usage_fields[0]) == USAGE_NFIELDS,
               "one table entry per field");
_Static_assert(offsetof(struct usage_counters, mem_pages) ==
                   USAGE_FIELD_MEM_PAGES * 8,
               "USAGE_FIELD_MEM_PAGES is mem_pages");
_Static_assert(offsetof(struct usage_counters, mem_page_ns) ==
                   USAGE_FIELD_MEM_PAGE_NS * 8,
               "USAGE_FIELD_MEM_PAGE_NS is mem_page_ns");

const char *usage_field_name(unsigned i)
{
	return i < USAGE_NFIELDS ? usage_fields[i].name : NULL;
}

uint64_t *usage_field(struct usage_counters *c, unsigned i)
{
	if (i >= USAGE_NFIELDS)
		return NULL;
	return (uint64_t *)(void *)((char *)c + usage_fields[i].offset);
}

uint64_t usage_field_get(const struct usage_counters *c, unsigned i)
{
	FS_BUG_ON(i >= USAGE_NFIELDS);
	return *(const uint64_t *)(const void *)((const char *)c +
	                                         usage_fields[i].offset);
}

bool usage_field_is_gauge(unsigned i)
{
	return i == USAGE_FIELD_MEM_PAGES;
}

void usage_mem_set(struct usage_counters *c, uint64_t pages, ns_t now,
                   ns_t *stamp)
{
	if (now > *stamp) {
		/* Unsigned multiplication and addition wrap, so the integral
		 * is exact modulo 2^64 however large the product. */
		c->mem_page_ns += c->mem_pages * (now - *stamp);
		*stamp = now;
	}
	c->mem_pages = pages;
}

int usage_delta(const struct usage_sample *prev, const struct usage_sample *cur,
                struct usage_counters *out)
{
	int reset = 0;
	unsigned i;

	if (prev == NULL || prev->boot_id != cur->boot_id) {
		*out = cur->c;
		return USAGE_DELTA_NEW_BOOT;
	}
	if (cur->ns < prev->ns) {
		*out = (struct usage_counters){0};
		return FS_EINVAL;
	}
	for (i = 0; i < USAGE_NFIELDS; i++) {
		uint64_t p = usage_field_get(&prev->c, i);
		uint64_t n = usage_field_get(&cur->c, i);
		uint64_t *d = usage_field(out, i);

		if (usage_field_is_gauge(i)) {
			*d = n; /* a gauge carries its current value */
		} else if (i == USAGE_FIELD_MEM_PAGE_NS) {
			*d = n - p; /* wraps in normal operation: mod 2^64 */
		} else if (n < p) {
			*d = n; /* went backwards: a reset of this field */
			reset |= 1 << i;
		} else {
			*d = n - p;
		}
	}
	return reset;
}
