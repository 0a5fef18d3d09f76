/* Constants shared by the assembly files and C. */
#ifndef ARCH_ASM_H
#define ARCH_ASM_H

#define KERNEL_VMA 0xFFFFFFFF80000000
#define DMAP_BASE 0xFFFF800000000000 /* all physical memory, PML4[256] */
#define KSTACK_SIZE 16384

/* GDT selectors; user selectors carry RPL 3. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x23 /* 0x20 | 3 */
#define SEL_UCODE 0x2B /* 0x28 | 3 */
#define SEL_TSS 0x30

#define VEC_TIMER 32
#define VEC_LINK 35 /* COM2 through the I/O APIC */
#define VEC_SPURIOUS 255
#define VEC_SYSCALL 256 /* not an IDT vector: marks a syscall frame */

/* struct regs layout (arch/x86_64/regs.h): 15 GPRs, vector, error, then
 * the hardware iret frame. */
#define REGS_SIZE (22 * 8)

#endif
