/*
 * Physical memory: the frame table and the frame allocator.
 *
 * One struct frame per 4 KiB frame of physical memory up to the highest
 * usable address records who owns it and what it holds. Free frames are
 * linked through the table (LIFO). A frame is zeroed by frame_alloc() before
 * anyone gets it, so no domain ever sees another's data (or the hypervisor's).
 *
 * Invariants (mm_check):
 *   1. A frame is on the free list iff its type is FRAME_FREE.
 *   2. nr_free equals the length of the free list.
 *   3. Every FRAME_GUEST, FRAME_PT or FRAME_DISK frame has a real domain as
 *      owner.
 */
#ifndef CORE_MM_H
#define CORE_MM_H

#include <stdint.h>

#include "fs_types.h"

enum frame_type {
	FRAME_ABSENT = 0, /* a hole in the memory map, or firmware's */
	FRAME_FREE,
	FRAME_HV,         /* hypervisor image, frame table */
	FRAME_MODULE,     /* a guest image loaded by the boot loader */
	FRAME_GUEST,      /* a domain's memory */
	FRAME_PT,         /* a domain's page tables */
	FRAME_DISK,       /* a domain's disk: data and its index */
};

struct frame {
	domid_t owner;   /* DOMID_HYPERVISOR unless GUEST/PT */
	uint16_t type;   /* enum frame_type */
	uint16_t pad;
	uint32_t next;   /* free list link (frame number), if FREE */
};

struct mem_range {
	uint64_t start, end; /* [start, end), bytes */
};

/* Build the table over `usable` RAM ranges, minus `reserved` ones. */
void mm_init(const struct mem_range *usable, int n_usable,
             const struct mem_range *reserved, int n_reserved);

/* A zeroed frame for `owner`; 0 or FS_ENOMEM. */
int frame_alloc(domid_t owner, enum frame_type type, uint64_t *pa);
void frame_free(uint64_t pa);

/* Mark [start, end) as `type` (modules); they were reserved at mm_init. */
void mm_mark(uint64_t start, uint64_t end, enum frame_type type);

uint64_t mm_free_frames(void);
const char *mm_check(void);
/* Fill every free frame with `byte` (boot option poison_free: proves that
 * allocation zeroes). */
void mm_poison_free(uint8_t byte);

#endif
