/* The saved register frame: what the entry stubs push, what regs_return
 * pops. Order matters (entry.S). */
#ifndef ARCH_REGS_H
#define ARCH_REGS_H

#include <stdint.h>

struct regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* the iret frame */
};

_Static_assert(sizeof(struct regs) == 22 * 8, "entry.S frame layout");

#endif
