/* The frame table and allocator (see mm.h for the contract). */
#include "core/mm.h"

#include <stdbool.h>

#include "core/arch.h"
#include "core/lib.h"
#include "core/log.h"
#include "fs_errors.h"

#define NO_FRAME UINT32_MAX

static struct frame *ft;
static uint64_t nr_frames, nr_free, nr_usable;
static uint32_t free_head = NO_FRAME;

static bool overlaps(uint64_t a0, uint64_t a1, const struct mem_range *r,
                     int n)
{
	for (int i = 0; i < n; i++)
		if (a0 < r[i].end && r[i].start < a1)
			return true;
	return false;
}

void mm_init(const struct mem_range *usable, int n_usable,
             const struct mem_range *reserved, int n_reserved)
{
	uint64_t top = 0;
	for (int i = 0; i < n_usable; i++)
		if (usable[i].end > top)
			top = usable[i].end;
	nr_frames = top >> PAGE_SHIFT;
	uint64_t ft_bytes = nr_frames * sizeof(struct frame);
	ft_bytes = (ft_bytes + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	/* Place the table in the first usable, unreserved gap that fits. */
	uint64_t ft_pa = 0;
	for (int i = 0; i < n_usable && !ft_pa; i++) {
		uint64_t s = (usable[i].start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		for (; s + ft_bytes <= usable[i].end; s += PAGE_SIZE) {
			if (s < 0x100000)
				continue;
			if (!overlaps(s, s + ft_bytes, reserved, n_reserved)) {
				ft_pa = s;
				break;
			}
		}
	}
	if (!ft_pa)
		panic("mm: no room for a %llu-byte frame table",
		      (unsigned long long)ft_bytes);
	ft = arch_phys_to_virt(ft_pa);
	memset(ft, 0, ft_bytes);

	/* Highest frames pushed first: allocation runs upwards from low. */
	for (uint64_t f = nr_frames; f-- > 0;) {
		uint64_t a = f << PAGE_SHIFT;
		bool usable_f = false;
		for (int i = 0; i < n_usable; i++)
			if (a >= usable[i].start && a + PAGE_SIZE <= usable[i].end)
				usable_f = true;
		ft[f].owner = DOMID_HYPERVISOR;
		if (!usable_f) {
			ft[f].type = FRAME_ABSENT;
			continue;
		}
		nr_usable++;
		if (a < 0x100000 || overlaps(a, a + PAGE_SIZE, reserved,
		                             n_reserved) ||
		    (a >= ft_pa && a < ft_pa + ft_bytes)) {
			ft[f].type = FRAME_HV;
			continue;
		}
		ft[f].type = FRAME_FREE;
		ft[f].next = free_head;
		free_head = (uint32_t)f;
		nr_free++;
	}
	log_info("mm: %llu MiB usable, %llu MiB free, frame table %llu KiB "
	         "at %llx",
	         (unsigned long long)(nr_usable >> 8),
	         (unsigned long long)(nr_free >> 8),
	         (unsigned long long)(ft_bytes >> 10),
	         (unsigned long long)ft_pa);
}

int frame_alloc(domid_t owner, enum frame_type type, uint64_t *pa)
{
	if (free_head == NO_FRAME)
		return FS_ENOMEM;
	uint32_t f = free_head;
	struct frame *fr = &ft[f];
	if (fr->type != FRAME_FREE)
		panic("mm: frame %u on the free list has type %u", f, fr->type);
	free_head = fr->next;
	nr_free--;
	fr->type = (uint16_t)type;
	fr->owner = owner;
	fr->next = NO_FRAME;
	*pa = (uint64_t)f << PAGE_SHIFT;
	memset(arch_phys_to_virt(*pa), 0, PAGE_SIZE);
	return FS_OK;
}

void frame_free(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	if (f >= nr_frames || (pa & (PAGE_SIZE - 1)))
		panic("mm: freeing bad address %llx", (unsigned long long)pa);
	struct frame *fr = &ft[f];
	if (fr->type != FRAME_GUEST && fr->type != FRAME_PT &&
	    fr->type != FRAME_DISK)
		panic("mm: freeing frame %llx of type %u",
		      (unsigned long long)pa, fr->type);
	fr->type = FRAME_FREE;
	fr->owner = DOMID_HYPERVISOR;
	fr->next = free_head;
	free_head = (uint32_t)f;
	nr_free++;
}

void mm_mark(uint64_t start, uint64_t end, enum frame_type type)
{
	for (uint64_t a = start & ~(PAGE_SIZE - 1); a < end; a += PAGE_SIZE) {
		uint64_t f = a >> PAGE_SHIFT;
		if (f < nr_frames && ft[f].type == FRAME_HV)
			ft[f].type = (uint16_t)type;
	}
}

uint64_t mm_free_frames(void)
{
	return nr_free;
}

const char *mm_check(void)
{
	uint64_t n = 0;
	for (uint32_t f = free_head; f != NO_FRAME; f = ft[f].next) {
		if (ft[f].type != FRAME_FREE)
			return "a frame on the free list is not FREE";
		if (++n > nr_free)
			return "free list longer than nr_free";
	}
	if (n != nr_free)
		return "free list shorter than nr_free";
	for (uint64_t f = 0; f < nr_frames; f++) {
		if (ft[f].type == FRAME_FREE && !n--)
			return "more FREE frames than on the free list";
		if ((ft[f].type == FRAME_GUEST || ft[f].type == FRAME_PT ||
		     ft[f].type == FRAME_DISK) &&
		    ft[f].owner == DOMID_HYPERVISOR)
			return "a guest frame without a domain";
	}
	return 0;
}

void mm_poison_free(uint8_t byte)
{
	for (uint32_t f = free_head; f != NO_FRAME; f = ft[f].next)
		memset(arch_phys_to_virt((uint64_t)f << PAGE_SHIFT), byte,
		       PAGE_SIZE);
}
