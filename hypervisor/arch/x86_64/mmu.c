/*
 * Page tables.
 *
 * The hypervisor's space (boot_pml4, built by boot.S and finished here):
 *   PML4[256]  direct map of all physical memory at DMAP_BASE, supervisor,
 *              no-execute; 1 GiB pages where the CPU has them, else 2 MiB.
 *              The 4th GiB (MMIO: local APIC, IOAPIC) is mapped uncached.
 *   PML4[511]  the kernel image: the first GiB at KERNEL_VMA (boot.S).
 * PML4[0], the boot identity map, is removed: the lower half belongs to
 * guests.
 *
 * A domain's space: a PML4 whose upper half (entries 256..511) is copied from
 * the hypervisor's, supervisor-only, and whose lower half maps the guest's
 * frames user-accessible. Page-table frames are owned by the domain in the
 * frame table (type FRAME_PT) and freed with it.
 */
#include "arch/x86_64/asm.h"
#include "arch/x86_64/io.h"
#include "core/arch.h"
#include "core/log.h"
#include "core/mm.h"
#include "core/space.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000ull

#define DMAP_MAX_GIB 64
extern uint64_t boot_pml4[512];
static uint64_t dmap_pdpt[512] __attribute__((aligned(4096)));
/* 2 MiB fallback: one PD per GiB. */
static uint64_t dmap_pd[DMAP_MAX_GIB][512] __attribute__((aligned(4096)));
static uint64_t dmap_limit; /* bytes mapped */

void *arch_phys_to_virt(uint64_t pa)
{
	if (dmap_limit) {
		if (pa >= dmap_limit)
			panic("phys_to_virt: %llx beyond the direct map",
			      (unsigned long long)pa);
		return (void *)(DMAP_BASE + pa);
	}
	/* Before mmu_init: the boot map covers the first GiB. */
	if (pa >= (1ull << 30))
		panic("phys_to_virt: %llx above 1 GiB before mmu_init",
		      (unsigned long long)pa);
	return (void *)(KERNEL_VMA + pa);
}

uint64_t arch_virt_to_phys(const void *va)
{
	uint64_t v = (uint64_t)va;
	if (v >= KERNEL_VMA)
		return v - KERNEL_VMA;
	if (v >= DMAP_BASE && v < DMAP_BASE + dmap_limit)
		return v - DMAP_BASE;
	panic("virt_to_phys: %p is neither kernel nor direct map", va);
}

void arch_mmu_init(uint64_t max_phys)
{
	uint32_t r[4];
	cpuid(0x80000001u, 0, r);
	bool gib_pages = r[3] & (1u << 26);
	uint64_t gibs = (max_phys + (1ull << 30) - 1) >> 30;
	if (gibs < 4)
		gibs = 4; /* MMIO below 4 GiB */
	if (gibs > DMAP_MAX_GIB) {
		log_warn("mmu: direct map limited to %d GiB of %llu",
		         DMAP_MAX_GIB, (unsigned long long)gibs);
		gibs = DMAP_MAX_GIB;
	}
	for (uint64_t g = 0; g < gibs; g++) {
		uint64_t attr = PTE_P | PTE_W | PTE_NX;
		if (g == 3)
			attr |= PTE_PCD | PTE_PWT;
		if (gib_pages) {
			dmap_pdpt[g] = (g << 30) | attr | PTE_PS;
			continue;
		}
		for (uint64_t i = 0; i < 512; i++)
			dmap_pd[g][i] = ((g << 30) + (i << 21)) | attr | PTE_PS;
		dmap_pdpt[g] = arch_virt_to_phys(dmap_pd[g]) | PTE_P | PTE_W;
	}
	boot_pml4[256] = arch_virt_to_phys(dmap_pdpt) | PTE_P | PTE_W;
	boot_pml4[0] = 0;
	write_cr3(arch_virt_to_phys(boot_pml4));
	dmap_limit = gibs << 30;
	log_info("mmu: direct map %llu GiB (%s pages), kernel PML4 %llx",
	         (unsigned long long)gibs, gib_pages ? "1 GiB" : "2 MiB",
	         (unsigned long long)arch_virt_to_phys(boot_pml4));
}

uint64_t arch_dmap_limit(void)
{
	return dmap_limit;
}

uint64_t arch_kernel_space(void)
{
	return arch_virt_to_phys(boot_pml4);
}

void arch_switch_space(uint64_t pml4_pa)
{
	if (read_cr3() != pml4_pa)
		write_cr3(pml4_pa);
}

static uint64_t *table(uint64_t pa)
{
	return arch_phys_to_virt(pa & PTE_ADDR);
}

int space_create(domid_t owner, uint64_t *pml4_pa)
{
	uint64_t pa;
	int rc = frame_alloc(owner, FRAME_PT, &pa);
	if (rc)
		return rc;
	uint64_t *t = table(pa);
	for (int i = 256; i < 512; i++)
		t[i] = boot_pml4[i];
	*pml4_pa = pa;
	return 0;
}

int space_map(uint64_t pml4_pa, domid_t owner, uint64_t va, uint64_t pa)
{
	if (va >= (1ull << 47))
		panic("space_map: %llx is not a lower-half address",
		      (unsigned long long)va);
	uint64_t *t = table(pml4_pa);
	for (int shift = 39; shift > 12; shift -= 9) {
		uint64_t *e = &t[(va >> shift) & 511];
		if (!(*e & PTE_P)) {
			uint64_t npa;
			int rc = frame_alloc(owner, FRAME_PT, &npa);
			if (rc)
				return rc;
			*e = npa | PTE_P | PTE_W | PTE_U;
		}
		t = table(*e);
	}
	uint64_t *pte = &t[(va >> 12) & 511];
	if (*pte & PTE_P)
		panic("space_map: %llx mapped twice", (unsigned long long)va);
	*pte = pa | PTE_P | PTE_W | PTE_U;
	return 0;
}

/* The leaf entry for a user address, or NULL if a table is missing. */
static uint64_t *pte_of(uint64_t pml4_pa, uint64_t va)
{
	if (va >= (1ull << 47))
		return 0;
	uint64_t *t = table(pml4_pa);
	for (int shift = 39; shift > 12; shift -= 9) {
		uint64_t e = t[(va >> shift) & 511];
		if (!(e & PTE_P) || !(e & PTE_U))
			return 0;
		t = table(e);
	}
	return &t[(va >> 12) & 511];
}

bool space_unmap(uint64_t pml4_pa, uint64_t va, uint64_t *pa)
{
	uint64_t *pte = pte_of(pml4_pa, va);
	if (!pte || !(*pte & PTE_P))
		return false;
	*pa = *pte & PTE_ADDR;
	*pte = 0;
	if (read_cr3() == pml4_pa)
		__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
	return true;
}

bool space_lookup(uint64_t pml4_pa, uint64_t va, uint64_t *pa)
{
	if (va >= (1ull << 47))
		return false;
	uint64_t *t = table(pml4_pa);
	for (int shift = 39; shift >= 12; shift -= 9) {
		uint64_t e = t[(va >> shift) & 511];
		if (!(e & PTE_P) || !(e & PTE_U))
			return false;
		if (shift == 12) {
			*pa = (e & PTE_ADDR) | (va & 0xFFF);
			return true;
		}
		t = table(e);
	}
	return false;
}

/* Free the lower half: every guest frame and every table frame. */
static void free_level(uint64_t *t, int level)
{
	for (int i = 0; i < (level == 4 ? 256 : 512); i++) {
		if (!(t[i] & PTE_P))
			continue;
		uint64_t pa = t[i] & PTE_ADDR;
		if (level > 1)
			free_level(table(pa), level - 1);
		frame_free(pa);
		t[i] = 0;
	}
}

void space_destroy(uint64_t pml4_pa)
{
	if (read_cr3() == pml4_pa)
		write_cr3(arch_kernel_space());
	free_level(table(pml4_pa), 4);
	frame_free(pml4_pa);
}
