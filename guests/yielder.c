/*
 * yielder: a domain that runs in bursts and gives the CPU away between
 * them, like a cooperative server thread. It spins work units until
 * burst_us of wall time (measured with the TSC) has passed since it last
 * came back from fs_yield(), then yields. With the default 1.9 ms burst it
 * sits just under a 2 ms context-switch allowance, the pattern that tests
 * whether yielding buys a domain more than its share.
 *
 * Args:
 *   burst_us=N  wall time to run between yields (default 1900)
 * Live reports: units (work units done), yields (fs_yield calls).
 */
#include "args.h"
#include "fs.h"
#include "printf.h"
#include "time.h"
#include "work.h"

static _Alignas(8) volatile uint64_t units, yields;

int main(const struct fs_domain_info *info)
{
	uint64_t burst_tsc, x = info->domid;

	fs_banner(info, "yielder");
	fs_need_tsc(info);
	burst_tsc =
	    fs_ns_to_tsc(info, fs_arg_ns(info, "burst_us", 1900, NS_PER_US));
	fs_report_live("units", &units);
	fs_report_live("yields", &yields);

	for (;;) {
		uint64_t t0 = fs_rdtsc();

		while (fs_rdtsc() - t0 < burst_tsc) {
			x = fs_work_unit(x);
			units++;
		}
		fs_yield();
		yields++;
	}
}
