/*
 * Boot: from the loader's hand-off to the first guest instruction.
 *
 *   boot.S      long mode, higher half, boot page tables
 *   kmain       console; loader info copied out; CPU tables; final page
 *               tables; frame table; TSC/APIC calibration; settings
 *   domains     one per boot module (count=N: N of them), each refused with
 *               a logged reason if its command line, image or memory is bad
 *   run_start   the scheduler takes over and never returns
 */
#include "guests/lib/work.h"
#include "core/arch.h"
#include "core/bootinfo.h"
#include "core/lib.h"
#include "core/log.h"
#include "core/mm.h"
#include "core/run.h"

extern char _image_start_phys[], _bss_end_phys[];

static struct boot_info bi;

/* The virtualization-overhead baseline: the guests' work loop, run here in
 * ring 0 for `ms` of wall time before any domain starts. */
static void bench_native(uint32_t ms)
{
	uint64_t x = 1, units = 0;
	ns_t t0 = arch_now_ns(), end = t0 + (ns_t)ms * NS_PER_MS, t;
	do {
		for (int i = 0; i < 64; i++)
			x = fs_work_unit(x);
		units += 64;
		t = arch_now_ns();
	} while (t < end);
	log_raw("@bench native_units=%llu native_ns=%llu native_check=%llu",
	        (unsigned long long)units, (unsigned long long)(t - t0),
	        (unsigned long long)(x & 0xFFFF));
}

/* A module whose command line holds blob=NAME is a disk blob, not a
 * domain: returns the offset of NAME, or -1. */
static int blob_name(const char *cmdline, char *name, size_t len)
{
	for (const char *p = cmdline; p && *p;) {
		while (*p == ' ')
			p++;
		if (p[0] == 'b' && p[1] == 'l' && p[2] == 'o' && p[3] == 'b' &&
		    p[4] == '=') {
			size_t n = 0;
			p += 5;
			while (p[n] && p[n] != ' ' && domcfg_name_char(p[n]))
				n++;
			if (n == 0 || n >= len || (p[n] && p[n] != ' '))
				return 0;
			memcpy(name, p, n);
			name[n] = 0;
			return 1;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

/* Register a disk blob; 1 if the module was one. */
static int register_blob(int idx, const struct boot_module *m)
{
	char name[FS_NAME_MAX + 1];
	int r = blob_name(m->cmdline, name, sizeof(name));
	if (r < 0)
		return 0;
	if (r == 0) {
		log_warn("module %d: refused: blob= needs a name of 1-31 "
		         "characters a-z 0-9 _ -", idx);
		log_raw("@refused module=%d reason=bad blob name", idx);
	} else if (image_register(name, m->start, m->end - m->start, true)) {
		log_warn("module %d: refused: a second blob named %s", idx,
		         name);
		log_raw("@refused module=%d reason=duplicate blob %s", idx,
		        name);
	} else {
		log_info("blob %s: %llu bytes", name,
		         (unsigned long long)(m->end - m->start));
	}
	return 1;
}

/* Build the domains of one module line. */
static void create_from_module(int idx, const struct boot_module *m)
{
	struct domain_settings s;
	const char *why;
	size_t off;
	domcfg_default(&s);
	if (!m->cmdline) {
		log_warn("module %d: refused: command line longer than %u bytes",
		         idx, DOMCFG_CMDLINE_MAX);
		log_raw("@refused module=%d reason=command line longer than %u "
		        "bytes",
		        idx, DOMCFG_CMDLINE_MAX);
		return;
	}
	if (domcfg_parse_cmdline(&s, m->cmdline, &why, &off)) {
		log_warn("module %d: refused: %s (at \"%.40s\")", idx, why,
		         m->cmdline + off);
		log_raw("@refused module=%d reason=%s", idx, why);
		return;
	}
	if (s.image[0] && image_register(s.image, m->start, m->end - m->start,
	                                 false))
		log_warn("module %d: image table full: %s cannot be used by "
		         "CREATE later", idx, s.image);
	for (uint32_t k = 1; k <= s.count; k++) {
		char name[FS_NAME_MAX + 1], reason[160];
		/* domcfg_check() proved every instance name fits */
		if (domcfg_instance_name(&s, k, name, sizeof(name)) < 0)
			panic("module %d: instance name %u does not fit", idx, k);
		struct domain *d = domain_create(&s, name, m->start,
		                                 m->end - m->start, reason,
		                                 sizeof(reason));
		if (!d) {
			log_warn("module %d: domain %s refused: %s", idx, name,
			         reason);
			log_raw("@refused module=%d name=%s reason=%s", idx, name,
			        reason);
			continue;
		}
		log_debug("domain %u (%s): %u MiB, weight %u, image %s", d->id,
		          name, s.memory_mb, s.sp.cpu_weight, s.image);
	}
}

__attribute__((noreturn)) void kmain(uint32_t magic, uint32_t info);

__attribute__((noreturn)) void kmain(uint32_t magic, uint32_t info)
{
	log_init();
	log_raw("%s", "");
	log_info("Fairshare hypervisor booting");
	bootinfo_parse(magic, info, &bi);
	log_info("boot: %s loader \"%s\", %d modules, command line \"%s\"",
	         bi.loader, bi.loader_name, bi.n_mods, bi.cmdline);

	arch_cpu_init();
	log_info("cpu: %s, SMEP %s, SMAP %s, UMIP %s", arch_cpu_vendor(),
	         arch_has_smep() ? "on" : "absent",
	         arch_has_smap() ? "on" : "absent",
	         arch_has_umip() ? "on" : "absent");

	uint64_t max_phys = 0;
	for (int i = 0; i < bi.n_usable; i++)
		if (bi.usable[i].end > max_phys)
			max_phys = bi.usable[i].end;
	arch_mmu_init(max_phys);
	/* RAM the direct map does not reach is left unused. */
	for (int i = 0; i < bi.n_usable; i++) {
		uint64_t lim = arch_dmap_limit();
		if (bi.usable[i].end > lim) {
			log_warn("mm: ignoring RAM above %llu GiB",
			         (unsigned long long)(lim >> 30));
			bi.usable[i].end = lim;
			if (bi.usable[i].start > lim)
				bi.usable[i].start = lim;
		}
	}

	/* Reserve the kernel image and every module; the loader's info
	 * structure was copied out and its frames may be reused. */
	struct mem_range rsv[MAX_MODULES + 1];
	int nr = 0;
	rsv[nr++] = (struct mem_range){(uint64_t)_image_start_phys,
	                               (uint64_t)_bss_end_phys};
	for (int i = 0; i < bi.n_mods; i++)
		rsv[nr++] = (struct mem_range){bi.mods[i].start, bi.mods[i].end};
	mm_init(bi.usable, bi.n_usable, rsv, nr);
	for (int i = 0; i < bi.n_mods; i++)
		mm_mark(bi.mods[i].start, bi.mods[i].end, FRAME_MODULE);

	arch_time_init();
	log_info("time: TSC %llu Hz, APIC timer %llu Hz (one-shot, "
	         "tickless)",
	         (unsigned long long)arch_tsc_hz(),
	         (unsigned long long)arch_apic_hz());

	struct hv_settings hv;
	const char *why;
	size_t off;
	hvcfg_default(&hv);
	if (hvcfg_parse_cmdline(&hv, bi.cmdline, &why, &off)) {
		log_err("command line: %s (at \"%.40s\"); using defaults for "
		        "the rest",
		        why, bi.cmdline + off);
	}
	log_set_level(hv.loglevel);
	if (hv.poison_free) {
		mm_poison_free(0xA5);
		log_info("mm: free memory poisoned with 0xa5");
	}
	run_init(&hv);
	mgmt_init(&hv);

	bool blob[MAX_MODULES] = {false};
	for (int i = 0; i < bi.n_mods; i++)
		blob[i] = bi.mods[i].cmdline && register_blob(i, &bi.mods[i]);
	for (int i = 0; i < bi.n_mods; i++)
		if (!blob[i])
			create_from_module(i, &bi.mods[i]);
	log_info("boot: %u domains created, %llu MiB free",
	         domain_alive(), (unsigned long long)(mm_free_frames() >> 8));

	if (hv.bench_native_ms)
		bench_native(hv.bench_native_ms);
	run_start();
}
