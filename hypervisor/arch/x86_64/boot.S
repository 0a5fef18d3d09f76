/*
 * Boot: the two multiboot headers and the 32-bit entry into long mode.
 *
 * GRUB (multiboot2) and QEMU's -kernel loader (multiboot1) both enter at
 * _start in 32-bit protected mode, paging off, EAX = loader magic, EBX =
 * physical address of the boot information. We zero .bss, build boot page
 * tables that map the first GiB twice (identity, for the jump, and at
 * KERNEL_VMA, where the kernel is linked), enable PAE + long mode + paging,
 * and jump to kmain(magic, info) in the higher half. kmain copies the boot
 * information out and sets up the CPU, then replaces these tables with the
 * final ones (arch_mmu_init), which drop the identity map.
 */
#include "arch/x86_64/asm.h"

#define MB1_MAGIC 0x1BADB002
#define MB1_FLAGS 0x00010002 /* want memory map; address fields valid */
#define MB2_MAGIC 0xE85250D6

	.section .boot.header, "a"
	.align 8
mb2_header:
	.long MB2_MAGIC
	.long 0                                /* i386 protected mode */
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + (mb2_header_end - mb2_header))
	/* address tag: load the flat image as is */
	.align 8
	.short 2, 0
	.long 24
	.long mb2_header                       /* header_addr */
	.long _image_start_phys                /* load_addr */
	.long _load_end_phys                   /* load_end_addr */
	.long _bss_end_phys                    /* bss_end_addr */
	/* entry address tag */
	.align 8
	.short 3, 0
	.long 12
	.long _start
	/* end tag */
	.align 8
	.short 0, 0
	.long 8
mb2_header_end:

	.align 4
mb1_header:
	.long MB1_MAGIC
	.long MB1_FLAGS
	.long -(MB1_MAGIC + MB1_FLAGS)
	.long mb1_header                       /* header_addr */
	.long _image_start_phys                /* load_addr */
	.long _load_end_phys                   /* load_end_addr */
	.long _bss_end_phys                    /* bss_end_addr */
	.long _start                           /* entry_addr */

	.section .boot.text, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	mov %eax, %esi                         /* loader magic */
	mov %ebx, %ebp                         /* boot info, physical */

	/* zero .bss (the boot page tables live there) */
	mov $_bss_start_phys, %edi
	mov $_bss_end_phys, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	/* PD: 512 x 2 MiB = the first GiB */
	mov $(boot_pd - KERNEL_VMA), %edi
	mov $0x83, %eax                        /* present, writable, 2 MiB */
	xor %ecx, %ecx
1:	mov %eax, (%edi, %ecx, 8)
	add $0x200000, %eax
	inc %ecx
	cmp $512, %ecx
	jne 1b

	/* PDPT_lo[0] and PDPT_hi[510] -> PD; PML4[0] -> lo, PML4[511] -> hi */
	mov $(boot_pd - KERNEL_VMA + 3), %eax
	mov %eax, (boot_pdpt_lo - KERNEL_VMA)
	mov %eax, (boot_pdpt_hi - KERNEL_VMA + 510 * 8)
	mov $(boot_pdpt_lo - KERNEL_VMA + 3), %eax
	mov %eax, (boot_pml4 - KERNEL_VMA)
	mov $(boot_pdpt_hi - KERNEL_VMA + 3), %eax
	mov %eax, (boot_pml4 - KERNEL_VMA + 511 * 8)

	mov $(boot_pml4 - KERNEL_VMA), %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax                         /* PAE */
	mov %eax, %cr4
	mov $0xC0000080, %ecx                  /* EFER */
	rdmsr
	or $0x900, %eax                        /* LME | NXE */
	wrmsr
	mov %cr0, %eax
	or $0x80010001, %eax                   /* PG | WP | PE */
	mov %eax, %cr0

	lgdt (boot_gdt_ptr)
	ljmp $0x08, $long_mode_low

	.code64
long_mode_low:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	movabs $boot_stack_top, %rsp
	mov %esi, %edi                         /* arg 1: magic */
	mov %ebp, %esi                         /* arg 2: info (phys) */
	movabs $kmain, %rax
	call *%rax
2:	hlt
	jmp 2b

	.section .boot.data, "a"
	.align 16
boot_gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF                /* 0x08: 64-bit code */
	.quad 0x00CF92000000FFFF                /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .bss
	.align 4096
	.globl boot_pml4
boot_pml4:	.skip 4096
boot_pdpt_lo:	.skip 4096
boot_pdpt_hi:	.skip 4096
boot_pd:	.skip 4096
	.align 16
	.globl boot_stack_top
boot_stack:	.skip KSTACK_SIZE
boot_stack_top:
