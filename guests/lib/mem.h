/*
 * Memory reservation calls (blkif.h, Xen's balloon model): a guest holds
 * its initial memory [FS_GUEST_BASE, + info->mem_bytes) and may populate
 * more pages anywhere in [FS_GUEST_BASE, FS_GUEST_BASE + FS_GUEST_WINDOW)
 * up to its ceiling, or hand populated pages back.
 *
 * The initial stack sits at the top of the initial memory, so a guest
 * grows above FS_GUEST_BASE + mem_bytes. New pages arrive zeroed. Every
 * call fills *st (if st is non-NULL) with the domain's page count and
 * ceiling; a refusal also says which limit refused (enum fs_mem_limit):
 *   FS_ERANGE  FS_MEM_LIMIT_MAX     the ceiling (memory_max_mb)
 *   FS_EAGAIN  FS_MEM_LIMIT_GROWTH  the growth bucket: retry at st->retry_ns
 *   FS_ENOMEM  FS_MEM_LIMIT_HOST    the host has no free memory
 *   FS_EINVAL  FS_MEM_LIMIT_ARGS    misaligned, outside the window, a page
 *                                   already (or not) populated
 * A refused call changes nothing.
 */
#ifndef GUEST_MEM_H
#define GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "blkif.h"
#include "fs.h"

#define FS_PAGE_SIZE 4096u

/* Populates npages (<= FS_MEM_BATCH_MAX) zeroed pages at gva. */
static inline int64_t fs_mem_increase(uint64_t gva, uint64_t npages,
                                      struct fs_mem_status *st)
{
	return fs_hc3(FS_HC_MEM_INCREASE, gva, npages, FS_PTR(st));
}

/* Gives npages populated pages at gva back to the hypervisor; touching
 * them afterwards is a page fault (the domain is killed). */
static inline int64_t fs_mem_decrease(uint64_t gva, uint64_t npages,
                                      struct fs_mem_status *st)
{
	return fs_hc3(FS_HC_MEM_DECREASE, gva, npages, FS_PTR(st));
}

/* The domain's pages and ceiling without changing anything (an increase
 * of 0 pages). */
static inline int64_t fs_mem_status(struct fs_mem_status *st)
{
	return fs_mem_increase(FS_GUEST_BASE, 0, st);
}

#endif
