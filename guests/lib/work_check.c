/*
 * Build-time check only, never linked into anything: compiles work.h with
 * the hypervisor's freestanding flags (no SSE, no red zone), which is how
 * the virtualization-overhead benchmark includes it in ring 0.
 */
#include "work.h"

uint64_t fs_work_check(uint64_t x);

uint64_t fs_work_check(uint64_t x)
{
	return fs_work_unit(x);
}
