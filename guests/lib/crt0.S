/*
 * Guest entry point. The hypervisor starts a domain here (the ELF entry,
 * linked first at FS_GUEST_BASE by guest.ld) with RSP at the top of the
 * guest's memory and every other register zero.
 *
 * Zero is right for the general registers but not for the FPU/SSE control
 * words: an MXCSR of 0 would unmask every SSE exception, so the first
 * inexact double would fault and kill the domain. Load the ABI defaults
 * (MXCSR 0x1f80, x87 control word 0x37f via fninit) whatever state the
 * hypervisor handed us; both instructions are unprivileged.
 *
 * The top 64 bytes of memory are left unused: the hostile image aims
 * pointers there whose length crosses the end of memory, so even a
 * hypervisor that wrongly wrote part of such a range cannot corrupt a live
 * stack frame.
 */
	.section .text.start, "ax", @progbits
	.globl _start
	.type _start, @function
_start:
	xorl	%ebp, %ebp		/* end of the frame chain */
	andq	$-16, %rsp
	subq	$64, %rsp		/* the unused top (see above) */
	fninit
	ldmxcsr	mxcsr_default(%rip)
	call	fs_main			/* the psABI wants RSP % 16 == 0 here */
1:	pause				/* fs_main does not return */
	jmp	1b
	.size _start, . - _start

	.section .rodata
	.balign 4
mxcsr_default:
	.long	0x1f80

	.section .note.GNU-stack, "", @progbits
