/*
 * zerocheck: proves that a domain's memory starts zeroed. It reads every
 * byte from the end of its own image (the linker's _end) up to 64 KiB
 * below the top of memory (the stack lives there) and reports how many
 * were not zero. Run after the hypervisor's boot option that poisons free
 * RAM, and after domains that dirty their memory on exit (touch=1), a
 * non-zero count means a domain saw another's data.
 *
 * The scan goes a word at a time through a pointer the compiler cannot see
 * through, and counts bytes only inside non-zero words. Nothing above _end
 * is written before the scan: crt0 and the kit keep their state in .bss
 * and on the stack.
 *
 * Args:
 *   touch=0|1  after checking, fill memory from _end to just below the
 *              stack with 0xA5, so the frames this domain returns are
 *              dirty (default 0)
 * Reports (fs_report, once): checked_bytes, nonzero_bytes, first_nonzero
 * (address of the first non-zero byte, 0 if none). Then shuts down DONE.
 */
#include "args.h"
#include "fs.h"
#include "printf.h"
#include "string.h"

#define STACK_RESERVE (64u * 1024u)
#define FILL_MARGIN 4096u /* below the current stack frame */

extern char _end[]; /* guest.ld: first byte after the image */

struct scan {
	uint64_t checked, nonzero, first; /* first: 0 if none */
};

static void scan_bytes(struct scan *s, uint64_t lo, uint64_t hi)
{
	for (uint64_t a = lo; a < hi; a++) {
		const volatile uint8_t *p = (const volatile uint8_t *)a;

		if (*p != 0) {
			if (s->nonzero++ == 0)
				s->first = a;
		}
	}
	s->checked += hi - lo;
}

/* Scans [lo, hi) with lo, hi 8-byte aligned. */
static void scan_words(struct scan *s, uint64_t lo, uint64_t hi)
{
	const uint64_t *p = (const uint64_t *)lo;

	__asm__("" : "+r"(p)); /* the compiler knows nothing of this memory */
	for (uint64_t a = lo; a < hi; a += 8, p++) {
		if (*p != 0)
			scan_bytes(s, a, a + 8);
		else
			s->checked += 8;
	}
}

int main(const struct fs_domain_info *info)
{
	uint64_t lo = FS_PTR(_end);
	uint64_t top = info->mem_base + info->mem_bytes;
	uint64_t hi = top - STACK_RESERVE;
	uint64_t lo8 = (lo + 7u) & ~7ull, hi8 = hi & ~7ull;
	struct scan s = {0, 0, 0};

	fs_banner(info, "zerocheck");
	if (hi < lo || info->mem_bytes < STACK_RESERVE)
		hi = lo; /* no room beyond the image and stack: nothing to do */
	if (hi8 < lo8) {
		scan_bytes(&s, lo, hi);
	} else {
		scan_bytes(&s, lo, lo8);
		scan_words(&s, lo8, hi8);
		scan_bytes(&s, hi8, hi);
	}
	fs_report("checked_bytes", s.checked);
	fs_report("nonzero_bytes", s.nonzero);
	fs_report("first_nonzero", s.first);
	fs_printf("zerocheck: dom %u: %llu bytes checked [0x%llx, 0x%llx), "
	          "%llu non-zero, first at 0x%llx\n",
	          info->domid, (unsigned long long)s.checked,
	          (unsigned long long)lo, (unsigned long long)hi,
	          (unsigned long long)s.nonzero, (unsigned long long)s.first);

	if (fs_arg_u64(info, "touch", 0) != 0) {
		uint64_t sp = FS_PTR(&s) - FILL_MARGIN;

		if (sp > lo)
			memset((void *)lo, 0xa5, sp - lo);
	}
	return 0;
}
