/* Domain address spaces (arch/x86_64/mmu.c). Each returns 0 or FS_ENOMEM. */
#ifndef CORE_SPACE_H
#define CORE_SPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "fs_types.h"

/* A new PML4 sharing the hypervisor's upper half (supervisor-only). */
int space_create(domid_t owner, uint64_t *pml4_pa);
/* Map one 4 KiB user page read/write at va -> pa, allocating tables. */
int space_map(uint64_t pml4_pa, domid_t owner, uint64_t va, uint64_t pa);
/* Unmap one user page; its frame's address in *pa (the caller frees it).
 * False if it was not mapped. Page tables stay until space_destroy. */
bool space_unmap(uint64_t pml4_pa, uint64_t va, uint64_t *pa);
/* Translate a user address; false if unmapped. */
bool space_lookup(uint64_t pml4_pa, uint64_t va, uint64_t *pa);
/* Free every frame of the lower half and the tables themselves. */
void space_destroy(uint64_t pml4_pa);

#endif
