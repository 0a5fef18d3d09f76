/* What the boot loader told us, copied out of its memory (bootinfo.c). */
#ifndef CORE_BOOTINFO_H
#define CORE_BOOTINFO_H

#include <stdint.h>

#include "core/mm.h"
#include "core/param.h"

struct boot_module {
	uint64_t start, end; /* physical, [start, end) */
	const char *cmdline;
};

struct boot_info {
	const char *loader;  /* "multiboot2" or "multiboot1" */
	const char *loader_name;
	const char *cmdline;
	struct mem_range usable[MAX_MEM_RANGES];
	int n_usable;
	struct boot_module mods[MAX_MODULES];
	int n_mods;
	uint64_t info_start, info_end; /* the loader's info structure */
};

/* Parse the multiboot1 or multiboot2 information at physical `info`
 * according to `magic`. Panics with a reason on anything malformed. */
void bootinfo_parse(uint32_t magic, uint64_t info, struct boot_info *bi);

#endif
