/*
 * The guest kit's view of the hypercall ABI (hypervisor/include/public/
 * hypercall.h): raw wrappers fs_hc0..fs_hc5 and one typed helper per call.
 *
 * `syscall` takes the number in RAX and the arguments in RDI, RSI, RDX, R10,
 * R8, and leaves the result in RAX. The CPU itself overwrites RCX (return
 * RIP) and R11 (RFLAGS), so those two are clobbered; the hypervisor
 * preserves every other register and the FPU/SSE state, so nothing else is.
 * "memory" is clobbered because calls read guest buffers (console text,
 * report keys) and write them (domain info): the compiler must not keep
 * such data in registers across a call.
 *
 * Every wrapper returns the raw RAX: >= 0 on success, a negative FS_E* code
 * (fs_errors.h) on failure.
 */
#ifndef GUEST_FS_H
#define GUEST_FS_H

#include <stdint.h>

#include "fs_errors.h"
#include "fs_types.h"
#include "hypercall.h"

static inline int64_t fs_hc0(uint64_t nr)
{
	int64_t ret;

	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr)
	                 : "rcx", "r11", "memory");
	return ret;
}

static inline int64_t fs_hc1(uint64_t nr, uint64_t a1)
{
	int64_t ret;

	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a1)
	                 : "rcx", "r11", "memory");
	return ret;
}

static inline int64_t fs_hc2(uint64_t nr, uint64_t a1, uint64_t a2)
{
	int64_t ret;

	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a1), "S"(a2)
	                 : "rcx", "r11", "memory");
	return ret;
}

static inline int64_t fs_hc3(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
	int64_t ret;

	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a1), "S"(a2), "d"(a3)
	                 : "rcx", "r11", "memory");
	return ret;
}

static inline int64_t fs_hc4(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
                             uint64_t a4)
{
	register uint64_t r10 __asm__("r10") = a4;
	int64_t ret;

	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
	                 : "rcx", "r11", "memory");
	return ret;
}

static inline int64_t fs_hc5(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
                             uint64_t a4, uint64_t a5)
{
	register uint64_t r10 __asm__("r10") = a4;
	register uint64_t r8 __asm__("r8") = a5;
	int64_t ret;

	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
	                 : "rcx", "r11", "memory");
	return ret;
}

#define FS_PTR(p) ((uint64_t)(uintptr_t)(p))

/* Spins forever without a privileged instruction: where a guest ends up if
 * FS_HC_SHUTDOWN ever returned. The hypervisor still sees a CPU-bound
 * domain, which is the honest outcome of a guest that cannot stop. */
static inline _Noreturn void fs_hang(void)
{
	for (;;)
		__asm__ volatile("pause");
}

/* Writes len bytes (at most FS_CONSOLE_MAX) to the hypervisor console. */
static inline int64_t fs_console_write(const char *buf, uint64_t len)
{
	return fs_hc2(FS_HC_CONSOLE_WRITE, FS_PTR(buf), len);
}

/* Gives up the rest of the slice; returns when scheduled again. */
static inline int64_t fs_yield(void)
{
	return fs_hc0(FS_HC_YIELD);
}

/* Sleeps until hypervisor time >= deadline_ns; returns at once if that has
 * passed already. */
static inline int64_t fs_block_until(ns_t deadline_ns)
{
	return fs_hc1(FS_HC_BLOCK, deadline_ns);
}

/* Hypervisor monotonic time in ns (the clock of fs_block_until). */
static inline ns_t fs_time_ns(void)
{
	return (ns_t)fs_hc0(FS_HC_TIME);
}

static inline int64_t fs_domain_info(struct fs_domain_info *out)
{
	return fs_hc1(FS_HC_DOMAIN_INFO, FS_PTR(out));
}

/* Ends the domain with code (enum fs_shutdown_code) and a NUL-terminated
 * message for the console and the management link. */
static inline _Noreturn void fs_shutdown(uint32_t code, const char *msg)
{
	fs_hc3(FS_HC_SHUTDOWN, code, FS_PTR(msg), __builtin_strlen(msg));
	fs_hang();
}

/* Records key = value (key: 1..FS_REPORT_KEY_MAX chars of [a-z0-9_]). */
static inline int64_t fs_report(const char *key, uint64_t value)
{
	return fs_hc4(FS_HC_REPORT, FS_PTR(key), __builtin_strlen(key), value,
	              0);
}

/* Registers *ptr as the live value of key: the hypervisor reads it whenever
 * it prints the report, so the guest just updates the counter. ptr must be
 * 8-byte aligned and stay valid for the domain's life (use a static). */
static inline int64_t fs_report_live(const char *key,
                                     const volatile uint64_t *ptr)
{
	return fs_hc4(FS_HC_REPORT, FS_PTR(key), __builtin_strlen(key),
	              FS_PTR(ptr), FS_REPORT_LIVE);
}

/* The time stamp counter: allowed in ring 3, ticks at info->tsc_hz. */
static inline uint64_t fs_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* The kit's C entry, called by _start (crt0.S): fetches the domain info,
 * runs main() and shuts the domain down with its result. */
_Noreturn void fs_main(void);

/* Every image defines main: 0 shuts down FS_SHUTDOWN_DONE, anything else
 * FS_SHUTDOWN_ERROR. info stays valid for the domain's life. */
int main(const struct fs_domain_info *info);

#endif
