/*
 * Processor set-up: the final GDT (with user segments and the TSS), the IDT,
 * the syscall MSRs, protection features and the FPU.
 *
 * Guests run in ring 3 with IOPL 0, so IN/OUT, CLI/STI, HLT, MOV CRn, WRMSR
 * and every other privileged instruction raise #GP and kill the domain. Every
 * IDT gate has DPL 0: `int N` from a guest is a #GP too. SMEP stops the
 * hypervisor from executing guest pages and SMAP from touching them by
 * accident; the hypervisor reads guest memory only through the direct map
 * after checking the range (guest_read/guest_write, core/domain.c). #DF and NMI run on their own
 * stacks (IST) so a broken kernel stack still ends in a panic message.
 */
#include "arch/x86_64/asm.h"
#include "arch/x86_64/io.h"
#include "core/arch.h"
#include "core/log.h"

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct tss {
	uint32_t rsvd0;
	uint64_t rsp[3];
	uint64_t rsvd1;
	uint64_t ist[7];
	uint64_t rsvd2;
	uint16_t rsvd3, iomap;
} __attribute__((packed));

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern const uint64_t isr_stubs[256];
extern char syscall_entry[];
extern char idle_loop[];

static uint64_t gdt[8];
static struct idt_gate idt[256];
static struct tss tss;
static uint8_t kstack[KSTACK_SIZE] __attribute__((aligned(16)));
static uint8_t idle_stack[KSTACK_SIZE] __attribute__((aligned(16)));
static uint8_t df_stack[4096] __attribute__((aligned(16)));
static uint8_t nmi_stack[4096] __attribute__((aligned(16)));
static struct regs idle_regs;
static bool smep, smap, umip;
static char vendor[13];

/* Read by syscall_entry (entry.S). */
uint64_t kstack_top;

static void set_gate(int vec, uint64_t handler, uint8_t ist)
{
	idt[vec] = (struct idt_gate){
		.off_lo = (uint16_t)handler,
		.sel = SEL_KCODE,
		.ist = ist,
		.type = 0x8E, /* present, DPL 0, interrupt gate (IF cleared) */
		.off_mid = (uint16_t)(handler >> 16),
		.off_hi = (uint32_t)(handler >> 32),
	};
}

void arch_cpu_init(void)
{
	uint32_t r[4];
	cpuid(0, 0, r);
	uint32_t max_leaf = r[0];
	uint32_t v[3] = {r[1], r[3], r[2]};
	for (int i = 0; i < 12; i++)
		vendor[i] = (char)(v[i / 4] >> (8 * (i % 4)));

	gdt[0] = 0;
	gdt[1] = 0x00AF9A000000FFFFull; /* 0x08 kernel code, 64-bit */
	gdt[2] = 0x00CF92000000FFFFull; /* 0x10 kernel data */
	gdt[3] = 0;                     /* 0x18 unused (32-bit user code) */
	gdt[4] = 0x00CFF2000000FFFFull; /* 0x20 user data, DPL 3 */
	gdt[5] = 0x00AFFA000000FFFFull; /* 0x28 user code, 64-bit, DPL 3 */
	uint64_t tb = (uint64_t)&tss;
	uint64_t tl = sizeof(tss) - 1;
	gdt[6] = (tl & 0xFFFF) | ((tb & 0xFFFFFF) << 16) | (0x89ull << 40) |
	         (((tl >> 16) & 0xF) << 48) | (((tb >> 24) & 0xFF) << 56);
	gdt[7] = tb >> 32;

	kstack_top = (uint64_t)(kstack + sizeof(kstack));
	tss.rsp[0] = kstack_top;
	tss.ist[0] = (uint64_t)(df_stack + sizeof(df_stack));
	tss.ist[1] = (uint64_t)(nmi_stack + sizeof(nmi_stack));
	tss.iomap = sizeof(tss); /* no I/O bitmap: every port traps */

	struct dtr g = {sizeof(gdt) - 1, (uint64_t)gdt};
	__asm__ volatile("lgdt %0\n\t"
	                 "pushq $0x08\n\t"
	                 "leaq 1f(%%rip), %%rax\n\t"
	                 "pushq %%rax\n\t"
	                 "lretq\n"
	                 "1:\n\t"
	                 "mov $0x10, %%eax\n\t"
	                 "mov %%eax, %%ds\n\t"
	                 "mov %%eax, %%es\n\t"
	                 "mov %%eax, %%ss\n\t"
	                 "xor %%eax, %%eax\n\t"
	                 "mov %%eax, %%fs\n\t"
	                 "mov %%eax, %%gs\n\t"
	                 "mov $0x30, %%eax\n\t"
	                 "ltr %%ax"
	                 :
	                 : "m"(g)
	                 : "rax", "memory");

	for (int i = 0; i < 256; i++)
		set_gate(i, isr_stubs[i], i == 8 ? 1 : i == 2 ? 2 : 0);
	struct dtr d = {sizeof(idt) - 1, (uint64_t)idt};
	__asm__ volatile("lidt %0" : : "m"(d));

	/* syscall: CS/SS from STAR[47:32]; SFMASK clears IF, TF, DF, AC, NT
	 * and IOPL so the hypervisor always starts with interrupts off. */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1); /* SCE */
	wrmsr(MSR_STAR, ((uint64_t)0x18 << 48) | ((uint64_t)SEL_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0x47700);

	uint64_t cr4 = read_cr4();
	cr4 |= (1u << 9) | (1u << 10); /* OSFXSR, OSXMMEXCPT */
	cr4 &= ~(1ull << 2);           /* TSD off: rdtsc allowed in ring 3 */
	if (max_leaf >= 7) {
		cpuid(7, 0, r);
		smep = r[1] & (1u << 7);
		smap = r[1] & (1u << 20);
		umip = r[2] & (1u << 2);
	}
	if (smep)
		cr4 |= 1u << 20;
	if (smap)
		cr4 |= 1u << 21;
	if (umip)
		cr4 |= 1u << 11; /* SGDT, SIDT, SLDT, SMSW, STR trap in ring 3 */
	write_cr4(cr4);
	uint64_t cr0 = read_cr0();
	cr0 &= ~((1ull << 2) | (1ull << 3)); /* EM, TS off: eager FPU */
	cr0 |= (1ull << 1) | (1ull << 5);    /* MP, NE */
	write_cr0(cr0);
	__asm__ volatile("fninit");
}

bool arch_has_smep(void)
{
	return smep;
}

bool arch_has_smap(void)
{
	return smap;
}

bool arch_has_umip(void)
{
	return umip;
}

const char *arch_cpu_vendor(void)
{
	return vendor;
}

/* A new domain's FPU state is built, not snapshotted: FNINIT leaves the
 * XMM and ST registers as they were, so a snapshot would hand the boot
 * loader's (or an earlier domain's) values to the guest. */
void arch_fpu_init_state(void *area)
{
	uint8_t *p = area;
	for (int i = 0; i < FPU_AREA_SIZE; i++)
		p[i] = 0;
	p[0] = 0x7F; /* FCW 0x037F: all x87 exceptions masked */
	p[1] = 0x03;
	p[24] = 0x80; /* MXCSR 0x1F80: all SSE exceptions masked */
	p[25] = 0x1F;
}

void arch_fpu_save(void *area)
{
	__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

void arch_fpu_restore(const void *area)
{
	/* AMD's FXRSTOR leaves FIP/FDP/FOP alone unless an exception is
	 * pending, so the last domain's x87 instruction pointer would leak:
	 * clear pending exceptions and execute an x87 load first (as Linux
	 * and Xen do, XSA-52). Harmless on Intel. */
	static const uint32_t zero;
	__asm__ volatile("fnclex\n\temms\n\tfildl %0" : : "m"(zero));
	__asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

/* Segment registers are not part of a domain's saved state: reset them on
 * every switch so one domain cannot signal the next through them. */
void arch_segments_reset(void)
{
	__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\t"
	                 "mov %0, %%fs\n\tmov %0, %%gs"
	                 :
	                 : "r"(0));
}

void arch_user_regs(struct regs *r, uint64_t rip, uint64_t rsp)
{
	*r = (struct regs){0};
	r->rip = rip;
	r->rsp = rsp;
	r->cs = SEL_UCODE;
	r->ss = SEL_UDATA;
	r->rflags = 0x202; /* IF; IOPL 0 */
}

bool arch_regs_from_user(const struct regs *r)
{
	return (r->cs & 3) == 3;
}

struct regs *arch_idle_regs(void)
{
	idle_regs = (struct regs){0};
	idle_regs.rip = (uint64_t)idle_loop;
	idle_regs.cs = SEL_KCODE;
	idle_regs.ss = SEL_KDATA;
	idle_regs.rflags = 0x202;
	idle_regs.rsp = (uint64_t)(idle_stack + sizeof(idle_stack));
	return &idle_regs;
}

__attribute__((noreturn)) void arch_debug_exit(uint32_t code)
{
	outl(0xF4, code);
	cpu_halt_forever();
}

uint64_t arch_fault_addr(void)
{
	return read_cr2();
}
