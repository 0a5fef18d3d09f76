/*
 * Multiboot1 (QEMU's -kernel loader) and multiboot2 (GRUB) information,
 * reduced to one struct boot_info. Everything is copied out: strings into a
 * static pool, ranges into arrays, so the loader's memory can be reused.
 * Runs before the final page tables: physical addresses are read through the
 * boot map of the first GiB (arch_phys_to_virt).
 */
#include "core/bootinfo.h"

#include "core/arch.h"
#include "core/lib.h"
#include "core/log.h"
#include "hypervisor/common/domcfg.h"

#define MB1_BOOT_MAGIC 0x2BADB002u
#define MB2_BOOT_MAGIC 0x36D76289u

static char strpool[BOOT_STRPOOL];
static size_t strpool_used;

/* Copy a NUL-terminated string of at most `max` bytes (the NUL included)
 * into the pool; NULL if it has no NUL within `max` bytes. */
static const char *keep_str(uint64_t pa, size_t max)
{
	const char *s = arch_phys_to_virt(pa);
	size_t n = 0;
	while (n < max && s[n])
		n++;
	if (n == max)
		return 0;
	if (strpool_used + n + 1 > sizeof(strpool))
		panic("boot: command lines exceed the %u-byte pool", BOOT_STRPOOL);
	char *d = strpool + strpool_used;
	memcpy(d, s, n);
	d[n] = 0;
	strpool_used += n + 1;
	return d;
}

static void add_usable(struct boot_info *bi, uint64_t base, uint64_t len)
{
	if (bi->n_usable == MAX_MEM_RANGES) {
		log_warn("boot: memory map has more than %d ranges; ignoring "
		         "the rest",
		         MAX_MEM_RANGES);
		return;
	}
	bi->usable[bi->n_usable++] = (struct mem_range){base, base + len};
}

static void add_module(struct boot_info *bi, uint64_t s, uint64_t e,
                       uint64_t cmd)
{
	if (bi->n_mods == MAX_MODULES)
		panic("boot: more than %d modules", MAX_MODULES);
	if (e < s)
		panic("boot: module %d ends before it starts", bi->n_mods);
	/* cmdline NULL: too long (the domain is refused with that reason) */
	bi->mods[bi->n_mods++] = (struct boot_module){
		s, e, cmd ? keep_str(cmd, DOMCFG_CMDLINE_MAX) : ""};
}

struct mb1_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));

struct mb1_mod {
	uint32_t start, end, cmdline, pad;
} __attribute__((packed));

struct mb1_mmap {
	uint32_t size;
	uint64_t base, len;
	uint32_t type;
} __attribute__((packed));

static void parse_mb1(uint64_t pa, struct boot_info *bi)
{
	const struct mb1_info *mi = arch_phys_to_virt(pa);
	bi->loader = "multiboot1";
	bi->info_start = pa;
	bi->info_end = pa + sizeof(*mi);
	bi->cmdline = (mi->flags & (1u << 2)) ? keep_str(mi->cmdline, 4096) : "";
	if (!bi->cmdline)
		panic("boot: hypervisor command line longer than 4096 bytes");
	bi->loader_name = (mi->flags & (1u << 9))
	                          ? keep_str(mi->boot_loader_name, 64)
	                          : "unknown";
	if (!(mi->flags & (1u << 6)))
		panic("boot: multiboot1 loader gave no memory map");
	uint64_t p = mi->mmap_addr, end = p + mi->mmap_length;
	while (p < end) {
		const struct mb1_mmap *m = arch_phys_to_virt(p);
		if (m->type == 1)
			add_usable(bi, m->base, m->len);
		p += m->size + 4;
	}
	if (mi->flags & (1u << 3)) {
		const struct mb1_mod *mods = arch_phys_to_virt(mi->mods_addr);
		for (uint32_t i = 0; i < mi->mods_count; i++)
			add_module(bi, mods[i].start, mods[i].end,
			           mods[i].cmdline);
	}
}

struct mb2_tag {
	uint32_t type, size;
};

static void parse_mb2(uint64_t pa, struct boot_info *bi)
{
	const uint32_t *hdr = arch_phys_to_virt(pa);
	uint32_t total = hdr[0];
	bi->loader = "multiboot2";
	bi->loader_name = "unknown";
	bi->cmdline = "";
	bi->info_start = pa;
	bi->info_end = pa + total;
	bool have_mmap = false;
	uint64_t p = pa + 8;
	while (p + 8 <= pa + total) {
		const struct mb2_tag *t = arch_phys_to_virt(p);
		if (t->type == 0)
			break;
		if (t->size < 8 || p + t->size > pa + total)
			panic("boot: malformed multiboot2 tag %u", t->type);
		const uint8_t *body = (const uint8_t *)(t + 1);
		switch (t->type) {
		case 1: /* command line */
			bi->cmdline = keep_str(p + 8, t->size - 8);
			if (!bi->cmdline)
				panic("boot: unterminated command line tag");
			break;
		case 2: /* boot loader name */
			bi->loader_name = keep_str(p + 8, t->size - 8);
			if (!bi->loader_name)
				bi->loader_name = "unknown";
			break;
		case 3: { /* module: start, end, command line */
			if (t->size < 17)
				panic("boot: multiboot2 module tag of %u bytes",
				      t->size);
			const uint32_t *m = (const uint32_t *)body;
			uint32_t room = t->size - 16;
			add_module(bi, m[0], m[1], p + 16);
			if (bi->mods[bi->n_mods - 1].cmdline &&
			    strlen(bi->mods[bi->n_mods - 1].cmdline) >= room)
				panic("boot: module tag string overruns its tag");
			break;
		}
		case 6: { /* memory map */
			if (t->size < 16)
				panic("boot: multiboot2 mmap tag of %u bytes",
				      t->size);
			const uint32_t *m = (const uint32_t *)body;
			uint32_t esz = m[0];
			if (esz < 24)
				panic("boot: multiboot2 mmap entry size %u", esz);
			for (uint64_t e = p + 16; e + esz <= p + t->size;
			     e += esz) {
				const uint64_t *ent = arch_phys_to_virt(e);
				uint32_t type = (uint32_t)ent[2];
				if (type == 1)
					add_usable(bi, ent[0], ent[1]);
			}
			have_mmap = true;
			break;
		}
		default:
			break;
		}
		p += (t->size + 7) & ~7u;
	}
	if (!have_mmap)
		panic("boot: multiboot2 loader gave no memory map");
}

void bootinfo_parse(uint32_t magic, uint64_t info, struct boot_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	if (magic == MB2_BOOT_MAGIC)
		parse_mb2(info, bi);
	else if (magic == MB1_BOOT_MAGIC)
		parse_mb1(info, bi);
	else
		panic("boot: unknown loader magic %x: boot me with GRUB "
		      "(multiboot2) or qemu -kernel (multiboot1)",
		      magic);
}
