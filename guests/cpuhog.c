/*
 * cpuhog: a CPU-bound domain. It runs fs_work_unit() back to back and
 * counts the units in a live report, so the hypervisor's report shows how
 * much work each domain got (the fair-share experiments compare these).
 *
 * It also checks that the FPU/SSE state survives preemption: a double and
 * a two-lane integer vector live in XMM registers for the whole run (the
 * empty asm with "+x" pins them there) and advance in lockstep with an
 * integer counter every FPU_CHECK_UNITS units. If a context switch ever
 * lost or mixed up vector state, they disagree and the domain shuts down
 * with FS_SHUTDOWN_ERROR "fpu state corrupted".
 *
 * Args:
 *   run_ms=N    stop (FS_SHUTDOWN_DONE) after N ms of wall time; 0 (the
 *               default) runs forever
 *   report=0|1  print the start line (default 1)
 * Live reports: units (work units done).
 */
#include "args.h"
#include "fs.h"
#include "printf.h"
#include "time.h"
#include "work.h"

#define FPU_CHECK_UNITS 64u /* power of two */
#define CLOCK_CHECK_UNITS 1024u

typedef uint64_t v2u64 __attribute__((vector_size(16)));

static _Alignas(8) volatile uint64_t units;

int main(const struct fs_domain_info *info)
{
	uint64_t end_tsc = UINT64_MAX, x = info->domid, i = 0;
	int64_t n = 0;
	ns_t run_ns;
	double f = 0.0;
	v2u64 v = {0, 0};
	const v2u64 step = {1, 3};

	if (fs_arg_u64(info, "report", 1) != 0)
		fs_banner(info, "cpuhog");
	run_ns = fs_arg_ns(info, "run_ms", 0, NS_PER_MS);
	if (run_ns != 0) {
		fs_need_tsc(info);
		end_tsc = fs_tsc_deadline(info, run_ns);
	}
	fs_report_live("units", &units);

	for (;;) {
		x = fs_work_unit(x);
		units++;
		if (++i % FPU_CHECK_UNITS == 0) {
			n++;
			f += 1.0;
			v += step;
			__asm__ volatile("" : "+x"(f), "+x"(v));
			if (f != (double)n || v[0] != (uint64_t)n ||
			    v[1] != 3u * (uint64_t)n)
				fs_shutdown(FS_SHUTDOWN_ERROR,
				            "fpu state corrupted");
		}
		if (i % CLOCK_CHECK_UNITS == 0 && fs_rdtsc() >= end_tsc)
			break;
	}
	fs_printf("cpuhog: dom %u done: %llu units in %llu ms\n", info->domid,
	          (unsigned long long)units,
	          (unsigned long long)(run_ns / NS_PER_MS));
	return 0;
}
