/*
 * The hypercall ABI: what a paravirtualized guest may ask of Fairshare.
 *
 * A guest calls in with `syscall`: the number in RAX, arguments in RDI, RSI,
 * RDX, R10, R8 (R10 instead of RCX, which `syscall` overwrites with the
 * return address; R11 receives RFLAGS). The result comes back in RAX: >= 0 on
 * success, a negative FS_E* code (fs_errors.h) on failure. Every other
 * register, and the FPU/SSE state, is preserved across the call.
 *
 * Every pointer a guest passes is checked against the guest's own memory
 * (its populated pages in [FS_GUEST_BASE, FS_GUEST_BASE + FS_GUEST_WINDOW):
 * mem_bytes at creation, then whatever FS_HC_MEM_* made of it) before the
 * hypervisor touches it;
 * a bad pointer is refused with FS_EFAULT, an unknown number with FS_ENOSYS.
 * Refusals are charged to the calling domain's CPU time like any other call.
 * docs/hypercalls.md documents each call.
 */
#ifndef FS_HYPERCALL_H
#define FS_HYPERCALL_H

#include <stdint.h>

#include "fs_types.h"

/* Guest address space: the guest's memory is mapped contiguously at
 * FS_GUEST_BASE in its own page tables; its ELF image must be linked there.
 * The initial stack pointer is the top of that memory; RDI holds the address
 * of nothing (0): the guest asks for its settings with FS_HC_DOMAIN_INFO. */
#define FS_GUEST_BASE 0x400000ull

enum fs_hypercall {
	FS_HC_CONSOLE_WRITE = 0, /* (buf, len) -> len written; at most
	                          * FS_CONSOLE_MAX bytes per call */
	FS_HC_YIELD = 1,         /* () -> 0: give up the rest of the slice */
	FS_HC_BLOCK = 2,         /* (deadline_ns) -> 0 once time >= deadline,
	                          * FS_BLOCK_EVENT if an event (block I/O
	                          * completion) came first or was pending;
	                          * FS_TIME_NEVER: until an event */
	FS_HC_TIME = 3,          /* () -> hypervisor monotonic time, ns */
	FS_HC_DOMAIN_INFO = 4,   /* (struct fs_domain_info *) -> 0 */
	FS_HC_SHUTDOWN = 5,      /* (code, msg, msg_len) -> does not return */
	FS_HC_REPORT = 6,        /* (key, key_len, value, flags) -> 0 */
	FS_HC_BLK_SETUP = 7,     /* (struct fs_blk_sring *) -> 0 (blkif.h) */
	FS_HC_BLK_NOTIFY = 8,    /* () -> requests started by this call */
	FS_HC_MEM_INCREASE = 9,  /* (gva, npages, struct fs_mem_status *) -> 0 */
	FS_HC_MEM_DECREASE = 10, /* (gva, npages, struct fs_mem_status *) -> 0 */
	FS_HC_COUNT
};

#define FS_TIME_NEVER UINT64_MAX
#define FS_BLOCK_EVENT 1
#define FS_CONSOLE_MAX 4096u

/* FS_HC_SHUTDOWN codes: how the domain's exit is reported. */
enum fs_shutdown_code {
	FS_SHUTDOWN_DONE = 0,  /* finished its work */
	FS_SHUTDOWN_ERROR = 1, /* gave up: the message says why */
};

/* FS_HC_REPORT: `key` is 1..FS_REPORT_KEY_MAX characters [a-z0-9_]; the
 * latest value per key is kept, up to FS_REPORT_MAX keys per domain. With
 * FS_REPORT_LIVE, `value` is instead the address of an aligned u64 in guest
 * memory that the hypervisor reads when it prints the report, so a counter
 * is reported exactly without a call per update. */
#define FS_REPORT_KEY_MAX 31u
#define FS_REPORT_MAX 16u
#define FS_REPORT_LIVE 1u

#define FS_NAME_MAX 31u  /* domain and image names: [a-z0-9_-], 1..31 */
#define FS_ARGS_MAX 255u /* guest argument string: "k=v k=v ..." */

/* FS_HC_DOMAIN_INFO fills this in. Fixed layout: part of the ABI. */
struct fs_domain_info {
	uint32_t domid;
	uint32_t cpu_weight;
	uint64_t mem_base;   /* FS_GUEST_BASE */
	uint64_t mem_bytes;  /* size of the guest's memory */
	uint64_t tsc_hz;     /* rdtsc is allowed in ring 3; its rate */
	uint64_t boot_ns;    /* hypervisor time when the domain was created */
	char name[FS_NAME_MAX + 1];
	char args[FS_ARGS_MAX + 1]; /* NUL-terminated */
};

_Static_assert(sizeof(struct fs_domain_info) == 328, "ABI layout");

#endif
