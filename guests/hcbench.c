/*
 * hcbench: the cost of a hypercall round trip, or of a yield, in TSC
 * cycles. It times iters back-to-back calls with rdtsc and reports the mean
 * in thousandths of a cycle (integers only: guests print no floats).
 *
 *   mode=hypercall  iters x FS_HC_TIME: the cheapest call there is, so the
 *                   figure is the entry/exit cost of the interface.
 *   mode=yield      iters x fs_yield(). Alone on a CPU that is a call that
 *                   finds nobody else to run; with two hcbench domains of
 *                   equal weight, every yield is a switch to the other, so
 *                   the figure is one switch there and one back.
 *
 * A warm-up of min(iters, 1000) untimed calls comes first (cold caches and
 * TLB are not the cost being measured).
 *
 * Args:
 *   mode=hypercall|yield  (default hypercall)
 *   iters=N               timed calls (default 100000, must be > 0)
 * Reports (fs_report, once): cycles_x1000 (total cycles * 1000 / iters),
 * iters. Then shuts down DONE.
 */
#include "args.h"
#include "fs.h"
#include "printf.h"
#include "string.h"
#include "time.h"

#define WARMUP_MAX 1000u

static void run(int yield, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		if (yield)
			fs_yield();
		else
			(void)fs_time_ns();
	}
}

int main(const struct fs_domain_info *info)
{
	char mode_buf[16];
	const char *mode;
	uint64_t iters, t0, t1, x1000;
	int yield;

	fs_banner(info, "hcbench");
	mode =
	    fs_arg_str(info, "mode", "hypercall", mode_buf, sizeof(mode_buf));
	iters = fs_arg_u64(info, "iters", 100000);
	if (strcmp(mode, "hypercall") == 0) {
		yield = 0;
	} else if (strcmp(mode, "yield") == 0) {
		yield = 1;
	} else {
		fs_printf("hcbench: mode='%s': want hypercall or yield\n",
		          mode);
		return 1;
	}
	if (iters == 0) {
		fs_printf("hcbench: iters must be > 0\n");
		return 1;
	}

	run(yield, iters < WARMUP_MAX ? iters : WARMUP_MAX);
	t0 = fs_rdtsc();
	run(yield, iters);
	t1 = fs_rdtsc();

	x1000 = fs_muldiv64(t1 - t0, 1000, iters);
	fs_report("cycles_x1000", x1000);
	fs_report("iters", iters);
	fs_printf("hcbench: dom %u: %s x %llu: %llu.%03llu cycles each\n",
	          info->domid, mode, (unsigned long long)iters,
	          (unsigned long long)(x1000 / 1000u),
	          (unsigned long long)(x1000 % 1000u));
	return 0;
}
