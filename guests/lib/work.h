/*
 * One unit of CPU work: a fixed, integer-only computation of about 1000
 * instructions (FS_WORK_STEPS = 72 steps of 14 instructions with GCC -O2:
 * a xorshift, a multiply-add, the loop control). Every step depends on the
 * previous one, and the empty asm makes x opaque to the optimiser at every
 * step, so the compiler can neither fold the loop nor vectorise nor drop
 * it. A unit is ~1000 retired instructions, not a fixed time: its duration
 * depends on the CPU, which is why the benchmarks compare rates.
 *
 * Shared with the hypervisor: the virtualization-overhead benchmark runs
 * this same loop natively in ring 0 and in a guest and compares the rates,
 * so the header must stay valid in both builds. It therefore includes only
 * <stdint.h>, uses no floating point and no calls, and compiles with
 * -mgeneral-regs-only -mno-red-zone (the hypervisor's flags) as well as
 * with the guests' flags. Changing the loop changes what a "unit" is: keep
 * the two sides identical and rerun the benchmark.
 */
#ifndef FS_WORK_H
#define FS_WORK_H

#include <stdint.h>

#define FS_WORK_STEPS 72u

/* Runs one unit of work on x and returns the result; feed it back in
 * (x = fs_work_unit(x)) to chain units. Any x is fine, including 0. */
static inline uint64_t fs_work_unit(uint64_t x)
{
	for (uint32_t i = 0; i < FS_WORK_STEPS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		x = x * 0x9e3779b97f4a7c15ull + i;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

#endif
