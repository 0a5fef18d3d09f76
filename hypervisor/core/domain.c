/*
 * Domain creation, ELF loading, teardown, guest memory access.
 */
#include "core/domain.h"

#include <stdarg.h>

#include "core/lib.h"
#include "core/log.h"
#include "core/mm.h"
#include "core/param.h"
#include "core/run.h"
#include "core/space.h"
#include "accounting/wire.h"
#include "blkif.h"
#include "fs_errors.h"

static struct domain domains[MAX_DOMAINS];
static uint32_t n_slots, n_alive;
static struct boot_image images[MAX_MODULES];
static uint32_t n_images;

int image_register(const char *name, uint64_t pa, uint64_t len, bool blob)
{
	/* The boot loader loads a module per domain line, so one image may
	 * come several times: the first copy serves for creation later. */
	if (image_find(name, blob))
		return blob ? FS_EEXIST : FS_OK;
	if (n_images == MAX_MODULES)
		return FS_ENOMEM;
	struct boot_image *im = &images[n_images++];
	strlcpy_k(im->name, name, sizeof(im->name));
	im->pa = pa;
	im->len = len;
	im->blob = blob;
	return FS_OK;
}

const struct boot_image *image_find(const char *name, bool blob)
{
	for (uint32_t i = 0; i < n_images; i++)
		if (images[i].blob == blob && streq(images[i].name, name))
			return &images[i];
	return 0;
}

struct domain *domain_at(uint32_t i)
{
	return i < n_slots ? &domains[i] : 0;
}

uint32_t domain_slots(void)
{
	return n_slots;
}

uint32_t domain_alive(void)
{
	return n_alive;
}

struct domain *domain_of(struct sched_entity *e)
{
	return (struct domain *)((char *)e - __builtin_offsetof(struct domain,
	                                                        se));
}

/* Inside the window and every page populated (a balloon leaves holes). */
bool guest_range_ok(const struct domain *d, uint64_t gva, uint64_t len)
{
	if (d->state != DOM_ALIVE || gva < FS_GUEST_BASE)
		return false;
	uint64_t off = gva - FS_GUEST_BASE;
	if (len > FS_GUEST_WINDOW || off > FS_GUEST_WINDOW - len)
		return false;
	uint64_t pa;
	for (uint64_t va = gva & ~(uint64_t)(PAGE_SIZE - 1); va < gva + len;
	     va += PAGE_SIZE)
		if (!space_lookup(d->pml4, va, &pa))
			return false;
	return true;
}

/* Copy between hypervisor memory and guest memory, page by page. */
static int guest_copy(const struct domain *d, uint64_t gva, void *hv,
                      uint64_t len, bool to_guest)
{
	if (!guest_range_ok(d, gva, len))
		return FS_EFAULT;
	char *p = hv;
	while (len) {
		uint64_t pa;
		if (!space_lookup(d->pml4, gva, &pa))
			panic("guest_copy: %s: %llx checked but unmapped",
			      d->cfg.name, (unsigned long long)gva);
		uint64_t chunk = PAGE_SIZE - (gva & (PAGE_SIZE - 1));
		if (chunk > len)
			chunk = len;
		char *g = arch_phys_to_virt(pa);
		if (to_guest)
			memcpy(g, p, chunk);
		else
			memcpy(p, g, chunk);
		p += chunk;
		gva += chunk;
		len -= chunk;
	}
	return FS_OK;
}

int guest_read(const struct domain *d, void *dst, uint64_t gva, uint64_t len)
{
	return guest_copy(d, gva, dst, len, false);
}

int guest_write(const struct domain *d, uint64_t gva, const void *src,
                uint64_t len)
{
	return guest_copy(d, gva, (void *)(uintptr_t)src, len, true);
}

/* ELF64 as far as we need it. */
struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

#define PT_LOAD 1
#define MAX_PHDRS 16

/* Validate the image against a memory of mem_bytes; NULL if it may load. */
static const char *elf_check(const uint8_t *img, uint64_t len,
                             uint64_t mem_bytes)
{
	const struct elf64_ehdr *eh = (const void *)img;
	if (len < sizeof(*eh) || memcmp(eh->ident, "\177ELF", 4))
		return "image is not an ELF file";
	if (eh->ident[4] != 2 || eh->ident[5] != 1)
		return "image is not 64-bit little-endian ELF";
	if (eh->type != 2 || eh->machine != 62)
		return "image is not an x86-64 executable (ET_EXEC)";
	if (eh->phentsize != sizeof(struct elf64_phdr) || eh->phnum == 0 ||
	    eh->phnum > MAX_PHDRS)
		return "image has a bad program header table";
	if (eh->phoff > len ||
	    (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > len - eh->phoff)
		return "image's program headers lie outside the file";
	const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
	uint64_t lo = FS_GUEST_BASE, hi = FS_GUEST_BASE + mem_bytes;
	bool entry_ok = false;
	for (int i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_LOAD)
			continue;
		if (ph[i].filesz > ph[i].memsz)
			return "a segment's file size exceeds its memory size";
		if (ph[i].offset > len || ph[i].filesz > len - ph[i].offset)
			return "a segment lies outside the file";
		if (ph[i].vaddr < lo || ph[i].memsz > hi - lo ||
		    ph[i].vaddr - lo > (hi - lo) - ph[i].memsz)
			return "a segment lies outside the domain's memory "
			       "(link at FS_GUEST_BASE; raise memory_mb?)";
		if (eh->entry >= ph[i].vaddr &&
		    eh->entry < ph[i].vaddr + ph[i].memsz)
			entry_ok = true;
	}
	if (!entry_ok)
		return "the entry point is in no loadable segment";
	return 0;
}

static struct domain *find_name(const char *name)
{
	for (uint32_t i = 0; i < n_slots; i++)
		if (domains[i].state != DOM_FREE &&
		    streq(domains[i].cfg.name, name))
			return &domains[i];
	return 0;
}

struct domain *domain_create(const struct domain_settings *s, const char *name,
                             uint64_t img_pa, uint64_t img_len, char *why,
                             size_t why_len)
{
	if (n_slots == MAX_DOMAINS) {
		snprintf_k(why, why_len, "no free domain slot (MAX_DOMAINS %d)",
		           MAX_DOMAINS);
		return 0;
	}
	if (find_name(name)) {
		snprintf_k(why, why_len, "a domain named %s exists", name);
		return 0;
	}
	uint64_t mem = (uint64_t)s->memory_mb << 20;
	const uint8_t *img = arch_phys_to_virt(img_pa);
	const char *bad = elf_check(img, img_len, mem);
	if (bad) {
		snprintf_k(why, why_len, "%s", bad);
		return 0;
	}
	/* Never overcommit: the guest's frames plus every page-table frame
	 * its mapping needs must be free. FS_GUEST_BASE is 2 MiB aligned, so
	 * one PT per 2 MiB; one PD per GiB touched; one PDPT (memory_mb is at
	 * most 64 GiB, all under PML4 entry 0); the PML4. */
	uint64_t pages = mem >> PAGE_SHIFT;
	uint64_t pts = (mem + (2ull << 20) - 1) >> 21;
	uint64_t pds = ((FS_GUEST_BASE + mem - 1) >> 30) - (FS_GUEST_BASE >> 30) + 1;
	uint64_t need = pages + pts + pds + 2 + blk_frames(s->disk_mb);
	const struct boot_image *disk = 0;
	if (s->disk_image[0]) {
		disk = image_find(s->disk_image, true);
		if (!disk) {
			snprintf_k(why, why_len, "no disk blob named %s (a module "
			           "with command line blob=%s)", s->disk_image,
			           s->disk_image);
			return 0;
		}
	}
	if (need > mm_free_frames()) {
		snprintf_k(why, why_len,
		           "out of memory: needs %llu frames, %llu free",
		           (unsigned long long)need,
		           (unsigned long long)mm_free_frames());
		return 0;
	}

	struct domain *d = &domains[n_slots];
	memset(d, 0, sizeof(*d));
	d->id = n_slots + 1;
	d->cfg = *s;
	strlcpy_k(d->cfg.name, name, sizeof(d->cfg.name));
	d->mem_bytes = mem;
	bool ok = space_create(d->id, &d->pml4) == FS_OK;
	for (uint64_t i = 0; ok && i < pages; i++) {
		uint64_t pa;
		ok = frame_alloc(d->id, FRAME_GUEST, &pa) == FS_OK;
		if (ok && space_map(d->pml4, d->id,
		                    FS_GUEST_BASE + i * PAGE_SIZE, pa)) {
			frame_free(pa);
			ok = false;
		}
	}
	if (!ok) {
		/* The arithmetic above should make this impossible; if it is
		 * wrong, refuse the domain and give everything back. */
		if (d->pml4)
			space_destroy(d->pml4);
		memset(d, 0, sizeof(*d));
		snprintf_k(why, why_len, "out of memory while mapping %llu "
		                         "pages (estimate %llu frames)",
		           (unsigned long long)pages, (unsigned long long)need);
		log_err("domain_create: page-table estimate short for %s", name);
		return 0;
	}
	if (blk_create(d, disk ? arch_phys_to_virt(disk->pa) : 0,
	               disk ? disk->len : 0, why, why_len)) {
		space_destroy(d->pml4);
		memset(d, 0, sizeof(*d));
		return 0;
	}
	d->state = DOM_ALIVE;
	const struct elf64_ehdr *eh = (const void *)img;
	const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
	for (int i = 0; i < eh->phnum; i++)
		if (ph[i].type == PT_LOAD &&
		    guest_write(d, ph[i].vaddr, img + ph[i].offset,
		                ph[i].filesz))
			panic("domain_create: checked segment did not load");
	arch_user_regs(&d->regs, eh->entry, FS_GUEST_BASE + mem);
	arch_fpu_init_state(d->fpu);
	d->created_ns = arch_now_ns();
	mem_init(d, d->created_ns);
	/* Console: 16 KiB burst, 4 KiB/s sustained; the rest is dropped and
	 * counted, so a chatty guest cannot flood the log. */
	tb_init(&d->console, 16384, 4096, 0, d->created_ns);
	n_slots++;
	n_alive++;
	run_add(d);
	mgmt_event(d, WIRE_EV_CREATED, WIRE_WHY_NONE, 0);
	return d;
}

static void teardown(struct domain *d)
{
	run_remove(d);
	blk_destroy(d);
	usage_mem_set(&d->u, 0, arch_now_ns(), &d->mem_stamp);
	space_destroy(d->pml4);
	d->pml4 = 0;
	n_alive--;
}

void domain_kill(struct domain *d, uint16_t why, const char *fmt, ...)
{
	if (d->state != DOM_ALIVE)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf_k(d->exit_reason, sizeof(d->exit_reason), fmt, ap);
	va_end(ap);
	/* Live reports point into memory about to be freed: snapshot. */
	run_snapshot_reports(d);
	d->state = DOM_KILLED;
	log_warn("domain %u (%s) killed: %s", d->id, d->cfg.name,
	         d->exit_reason);
	teardown(d);
	mgmt_event(d, why < WIRE_WHY_KILL_PRIVILEGED ? WIRE_EV_CRASHED
	                                             : WIRE_EV_KILLED,
	           why, 0);
	mgmt_event(d, WIRE_EV_DESTROYED, WIRE_WHY_NONE, 0);
}

void domain_exit(struct domain *d, uint64_t code, const char *msg)
{
	if (d->state != DOM_ALIVE)
		return;
	snprintf_k(d->exit_reason, sizeof(d->exit_reason), "%s%s%s",
	           code == FS_SHUTDOWN_DONE ? "done" : "error",
	           msg[0] ? ": " : "", msg);
	run_snapshot_reports(d);
	d->state = DOM_EXITED;
	log_info("domain %u (%s) exited: %s", d->id, d->cfg.name,
	         d->exit_reason);
	teardown(d);
	mgmt_event(d, WIRE_EV_EXITED, WIRE_WHY_NONE, code);
	mgmt_event(d, WIRE_EV_DESTROYED, WIRE_WHY_NONE, 0);
}
