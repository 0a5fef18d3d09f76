/*
 * Time helpers on the TSC. rdtsc is unprivileged and cheap (no hypercall),
 * so guests that must watch wall time inside a busy loop use it, converted
 * with info->tsc_hz; fs_time_ns() (a hypercall) is for the clock that
 * fs_block_until() uses. The conversions use a 128-bit product and one
 * 64-bit `div`, so they are exact, never overflow, and need no libgcc.
 */
#ifndef GUEST_TIME_H
#define GUEST_TIME_H

#include <stdint.h>

#include "fs.h"

/* a * b / c rounded down, or UINT64_MAX if that does not fit in 64 bits or
 * c == 0. The check comes first because `div` faults (#DE, which kills the
 * domain) when the quotient overflows. */
static inline uint64_t fs_muldiv64(uint64_t a, uint64_t b, uint64_t c)
{
	__extension__ unsigned __int128 p = (unsigned __int128)a * b;
	uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p, q, r;

	if (hi >= c) /* also catches c == 0 */
		return UINT64_MAX;
	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(c));
	(void)r;
	return q;
}

static inline uint64_t fs_ns_to_tsc(const struct fs_domain_info *info, ns_t ns)
{
	return fs_muldiv64(ns, info->tsc_hz, NS_PER_S);
}

static inline ns_t fs_tsc_to_ns(const struct fs_domain_info *info,
                                uint64_t ticks)
{
	return fs_muldiv64(ticks, NS_PER_S, info->tsc_hz);
}

/* The TSC value ns from now, saturating at UINT64_MAX (never wraps, so
 * `fs_rdtsc() >= deadline` is a safe test). */
static inline uint64_t fs_tsc_deadline(const struct fs_domain_info *info,
                                       ns_t ns)
{
	uint64_t now = fs_rdtsc(), ticks = fs_ns_to_tsc(info, ns);

	return ticks > UINT64_MAX - now ? UINT64_MAX : now + ticks;
}

/* Shuts the domain down with an error unless info->tsc_hz is usable; call
 * it first in images that time themselves with the TSC. */
static inline void fs_need_tsc(const struct fs_domain_info *info)
{
	if (info->tsc_hz == 0)
		fs_shutdown(FS_SHUTDOWN_ERROR, "tsc_hz is 0: cannot time");
}

/* Busy-waits ns nanoseconds of wall time (the domain may be descheduled in
 * the middle; the wait ends by the clock, not by CPU time received). */
static inline void fs_spin_ns(const struct fs_domain_info *info, ns_t ns)
{
	uint64_t ticks = fs_ns_to_tsc(info, ns);
	uint64_t t0 = fs_rdtsc();

	while (fs_rdtsc() - t0 < ticks)
		__asm__ volatile("pause");
}

#endif
