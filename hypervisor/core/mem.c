/*
 * Memory reservations: Xen's balloon model. A domain starts with memory_mb
 * populated at FS_GUEST_BASE and may populate more pages (anywhere in its
 * window above FS_GUEST_BASE) or give pages back, one hypercall at a time.
 *
 * A grant is checked against, in this order: the arguments (alignment,
 * window, every page unpopulated), the ceiling (memory_max_mb), the host's
 * free memory (never overcommitted: the pages plus every page-table frame
 * they could need must be free), the growth bucket (mem_growth_pages_per_s,
 * with a one-time mem_growth_burst_pages; capacity 0 like the I/O buckets,
 * so over any T seconds a domain grows by at most rate * T + burst plus one
 * call's pages). The first limit that refuses is named in the status, with
 * the exact retry time for the bucket; a refusal changes nothing.
 *
 * Granted pages come from frame_alloc, so they are zeroed; pages given back
 * go straight to the free pool, for any domain. mem_pages (a gauge) and
 * mem_page_ns (its exact integral, accounting/counters.h) follow every
 * change.
 */
#include "core/lib.h"
#include "core/log.h"
#include "core/mm.h"
#include "core/run.h"
#include "core/space.h"
#include "blkif.h"
#include "fs_errors.h"

void mem_init(struct domain *d, ns_t now)
{
	const struct domain_settings *s = &d->cfg;
	uint64_t max_mb = s->memory_max_set ? s->mem.memory_max_mb
	                                    : s->memory_mb;
	d->max_pages = max_mb << (20 - PAGE_SHIFT);
	/* domcfg_mem_check() bounded the bucket's settings. */
	tb_init(&d->mem_growth, 0, s->mem.mem_growth_pages_per_s,
	        s->mem.mem_growth_burst_pages, now);
	d->mem_stamp = now;
	usage_mem_set(&d->u, d->mem_bytes >> PAGE_SHIFT, now, &d->mem_stamp);
}

void mem_sync(struct domain *d, ns_t now)
{
	usage_mem_set(&d->u, d->u.mem_pages, now, &d->mem_stamp);
}

uint64_t mem_pt_frames(uint64_t npages)
{
	/* A PT per 512 pages, a PD per 512 PTs, and possibly one more of each
	 * at the range's two ends, plus a PDPT. */
	return (npages + 511) / 512 + (npages + 262143) / 262144 + 3;
}

static int64_t mem_done(struct domain *d, uint64_t st_gva, int64_t rc,
                        uint32_t limit, ns_t retry)
{
	if (st_gva) {
		struct fs_mem_status st = {limit, 0, retry, d->u.mem_pages,
		                           d->max_pages};
		guest_write(d, st_gva, &st, sizeof(st));
	}
	return rc;
}

/* The arguments: page-aligned, inside the window, at most a batch. */
static bool range_ok(uint64_t gva, uint64_t npages)
{
	if (gva & (PAGE_SIZE - 1) || gva < FS_GUEST_BASE ||
	    npages > FS_MEM_BATCH_MAX)
		return false;
	uint64_t off = gva - FS_GUEST_BASE;
	return off <= FS_GUEST_WINDOW &&
	       npages * PAGE_SIZE <= FS_GUEST_WINDOW - off;
}

int64_t mem_increase(struct domain *d, uint64_t gva, uint64_t npages,
                     uint64_t st_gva)
{
	if (st_gva && (st_gva & 7 ||
	               !guest_range_ok(d, st_gva, sizeof(struct fs_mem_status))))
		return FS_EFAULT;
	if (!range_ok(gva, npages))
		return mem_done(d, st_gva, FS_EINVAL, FS_MEM_LIMIT_ARGS, 0);
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pa;
		if (space_lookup(d->pml4, gva + i * PAGE_SIZE, &pa))
			return mem_done(d, st_gva, FS_EINVAL,
			                FS_MEM_LIMIT_ARGS, 0);
	}
	if (d->max_pages && d->u.mem_pages + npages > d->max_pages)
		return mem_done(d, st_gva, FS_ERANGE, FS_MEM_LIMIT_MAX, 0);
	if (npages + mem_pt_frames(npages) > mm_free_frames())
		return mem_done(d, st_gva, FS_ENOMEM, FS_MEM_LIMIT_HOST, 0);
	ns_t now = arch_now_ns(), retry;
	if (npages && !tb_consume(&d->mem_growth, npages, now, &retry))
		return mem_done(d, st_gva, FS_EAGAIN, FS_MEM_LIMIT_GROWTH,
		                retry);
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pa;
		if (frame_alloc(d->id, FRAME_GUEST, &pa) ||
		    space_map(d->pml4, d->id, gva + i * PAGE_SIZE, pa))
			panic("mem: %s: grant of %llu pages ran out after the "
			      "check", d->cfg.name, (unsigned long long)npages);
	}
	usage_mem_set(&d->u, d->u.mem_pages + npages, now, &d->mem_stamp);
	return mem_done(d, st_gva, FS_OK, FS_MEM_LIMIT_NONE, 0);
}

int64_t mem_decrease(struct domain *d, uint64_t gva, uint64_t npages,
                     uint64_t st_gva)
{
	if (st_gva && (st_gva & 7 ||
	               !guest_range_ok(d, st_gva, sizeof(struct fs_mem_status))))
		return FS_EFAULT;
	if (!range_ok(gva, npages))
		return mem_done(d, st_gva, FS_EINVAL, FS_MEM_LIMIT_ARGS, 0);
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pa;
		if (!space_lookup(d->pml4, gva + i * PAGE_SIZE, &pa))
			return mem_done(d, st_gva, FS_EINVAL,
			                FS_MEM_LIMIT_ARGS, 0);
	}
	/* The status page itself may be among those given back: answer
	 * first. */
	d->u.mem_pages -= npages;
	mem_done(d, st_gva, FS_OK, FS_MEM_LIMIT_NONE, 0);
	d->u.mem_pages += npages;
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pa;
		if (!space_unmap(d->pml4, gva + i * PAGE_SIZE, &pa))
			panic("mem: %s: checked page vanished", d->cfg.name);
		blk_page_gone(d, gva + i * PAGE_SIZE);
		frame_free(pa);
	}
	usage_mem_set(&d->u, d->u.mem_pages - npages, arch_now_ns(),
	              &d->mem_stamp);
	return FS_OK;
}

int mem_set_limits(struct domain *d, const struct mem_limits *m)
{
	const char *why;
	if (domcfg_mem_check(m, &why))
		return FS_ERANGE;
	ns_t now = arch_now_ns();
	int rc = tb_reconfigure(&d->mem_growth, 0, m->mem_growth_pages_per_s,
	                        m->mem_growth_burst_pages, now);
	if (rc)
		return rc;
	d->cfg.mem = *m;
	d->cfg.memory_max_set = 1;
	/* A ceiling below what the domain holds stops growth; it takes
	 * nothing away (the guest is asked to shrink by its owner). */
	d->max_pages = m->memory_max_mb << (20 - PAGE_SHIFT);
	return FS_OK;
}
