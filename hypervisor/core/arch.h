/*
 * The interface between the portable hypervisor core (hypervisor/core/) and
 * the x86-64 layer (hypervisor/arch/x86_64/). The core never touches a
 * register, port or page-table entry itself; an HVM (AMD-V) backend or a
 * second architecture implements these functions.
 */
#ifndef CORE_ARCH_H
#define CORE_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/regs.h"
#include "fs_types.h"

#define PAGE_SIZE 4096ull
#define PAGE_SHIFT 12

/* CPU: GDT, TSS, IDT, syscall MSRs, SMEP/SMAP, FPU. */
void arch_cpu_init(void);
bool arch_has_smep(void);
bool arch_has_smap(void);
bool arch_has_umip(void);
const char *arch_cpu_vendor(void);

/* FPU/SSE state: 512-byte, 16-aligned FXSAVE areas. */
#define FPU_AREA_SIZE 512
void arch_fpu_init_state(void *area); /* a clean state (FNINIT defaults) */
void arch_fpu_save(void *area);
void arch_fpu_restore(const void *area);
void arch_segments_reset(void);

/* A fresh ring-3 frame entering at rip with stack rsp. */
void arch_user_regs(struct regs *r, uint64_t rip, uint64_t rsp);
bool arch_regs_from_user(const struct regs *r);
uint64_t arch_fault_addr(void); /* CR2 */
/* The frame that resumes the idle loop (ring 0, interrupts on). */
struct regs *arch_idle_regs(void);

/* Time: the TSC is the clock; hz measured at boot against the PIT. */
void arch_time_init(void);
uint64_t arch_tsc_hz(void);
uint64_t arch_apic_hz(void);
ns_t arch_now_ns(void); /* ns since arch_time_init() */
/* Arm the one-shot timer to fire after `ns` (0 < ns); UINT64_MAX stops it.
 * Counts beyond the 32-bit counter are clamped: it then fires early and
 * the core simply decides again. */
void arch_timer_oneshot(uint64_t ns);
void arch_timer_eoi(void);

/* Memory: the direct map of all physical memory, and address spaces. */
void *arch_phys_to_virt(uint64_t pa);
uint64_t arch_virt_to_phys(const void *va); /* kernel image or direct map */
void arch_mmu_init(uint64_t max_phys);
uint64_t arch_dmap_limit(void); /* RAM beyond this is not used */
uint64_t arch_kernel_space(void); /* the hypervisor's own PML4 */
void arch_switch_space(uint64_t pml4_pa);

/* Serial ports (16550). */
void arch_serial_init(uint16_t port);
void arch_serial_putc(uint16_t port, char c);
#define COM1 0x3F8
#define COM2 0x2F8

/* The management link (COM2, link.c): interrupt-driven, buffered. */
void arch_link_init(void);
bool arch_link_present(void);
void arch_link_irq(void); /* on VEC_LINK: drain RX, refill TX; no EOI */
size_t arch_link_read(uint8_t *buf, size_t n); /* bytes received */
size_t arch_link_tx_free(void); /* ARCH_LINK_TX_SIZE when all sent */
#define ARCH_LINK_TX_SIZE 262144u
/* Queue n bytes for transmission, all or nothing. */
bool arch_link_write(const uint8_t *buf, size_t n);
uint64_t arch_link_rx_overruns(void);

/* End the run: QEMU's isa-debug-exit device (QEMU exits 2*code+1), else
 * halt forever. */
__attribute__((noreturn)) void arch_debug_exit(uint32_t code);

#endif
