/*
 * Every way into the hypervisor after boot, and the one way out.
 *
 * Interrupts and exceptions enter through isr_stubs[vector]: the stub pushes
 * a dummy error code where the CPU pushes none, then the vector, then the 15
 * general registers, forming a struct regs (regs.h) on the stack, and calls
 * trap_entry(regs). `syscall` enters at syscall_entry, which builds the same
 * frame on the kernel stack (vector VEC_SYSCALL) and calls
 * syscall_entry_c(regs).
 *
 * Both C handlers return the struct regs to resume: the same frame, the
 * saved frame of another domain (a context switch), or the idle frame.
 * regs_return loads RSP with it, pops the registers and IRETQs, so a switch
 * is just "return a different frame". The hypervisor runs with interrupts
 * off; only the idle loop (ring 0, its own stack) runs with them on.
 *
 * Single CPU: syscall_entry parks the guest RSP in a global and loads the
 * kernel stack without SWAPGS. An SMP build needs per-CPU data via GS.
 */
#include "arch/x86_64/asm.h"

	.text
	.code64

.macro PUSH_GPRS
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
.endm

.macro ISR_NOERR vec
	.align 16
isr_\vec:
	pushq $0
	pushq $\vec
	jmp isr_common
.endm

.macro ISR_ERR vec
	.align 16
isr_\vec:
	pushq $\vec
	jmp isr_common
.endm

/* Exceptions 8, 10-14, 17, 21, 29, 30 push an error code. */
.altmacro
.macro ISR vec
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	ISR_ERR \vec
	.else
	ISR_NOERR \vec
	.endif
.endm

.set i, 0
.rept 256
	ISR %i
	.set i, i + 1
.endr

isr_common:
	PUSH_GPRS
	/* An interrupt does not clear DF or AC; a guest may have set both,
	 * and AC = 1 would switch SMAP off in the hypervisor. (syscall clears
	 * them through SFMASK.) POPF rather than CLAC: CLAC is #UD without
	 * SMAP. */
	cld
	pushfq
	andq $~0x40000, (%rsp)
	popfq
	mov %rsp, %rdi
	call trap_entry
	jmp regs_return

	.globl regs_return
regs_return:
	mov %rax, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp                  /* vector, error */
	iretq

/* syscall: RCX = guest RIP, R11 = guest RFLAGS, RSP = guest RSP, IF = 0
 * (SFMASK). Build a struct regs as an interrupt from ring 3 would. */
	.align 16
	.globl syscall_entry
syscall_entry:
	mov %rsp, syscall_user_rsp(%rip)
	mov kstack_top(%rip), %rsp
	pushq $SEL_UDATA               /* ss */
	pushq syscall_user_rsp(%rip)   /* rsp */
	push %r11                      /* rflags */
	pushq $SEL_UCODE               /* cs */
	push %rcx                      /* rip */
	pushq $0                       /* error */
	pushq $VEC_SYSCALL             /* vector */
	PUSH_GPRS
	cld
	mov %rsp, %rdi
	call syscall_entry_c
	jmp regs_return

/* The idle loop: ring 0, interrupts on, its own stack. */
	.globl idle_loop
idle_loop:
	sti
	hlt
	jmp idle_loop

	.section .rodata
	.align 8
	.globl isr_stubs
isr_stubs:
.macro ISR_ENTRY vec
	.quad isr_\vec
.endm
.set i, 0
.rept 256
	ISR_ENTRY %i
	.set i, i + 1
.endr

	.bss
	.align 8
syscall_user_rsp:
	.quad 0
