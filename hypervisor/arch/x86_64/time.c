/*
 * Time: the TSC is the clock, the local APIC timer (one-shot) the alarm.
 *
 * Both rates are measured once at boot against PIT channel 2 over 50 ms and
 * rounded to the nearest MHz. Rounding makes runs reproducible: under QEMU
 * -icount the TSC and APIC run at exactly 1 GHz of virtual time and the
 * calibration's PIT-phase jitter (one PIT tick, ~17 ppm over 50 ms) would
 * otherwise differ between a GRUB boot and a direct one. On hardware it costs
 * at most 0.05% at 1 GHz (less at real clock rates); docs/architecture.md.
 *
 * ns = (tsc - tsc0) * mult >> 32 with a 128-bit product, always from the
 * boot stamp (never incrementally), so time is monotonic and error does not
 * accumulate. TCG offers no TSC-deadline mode, hence the APIC count.
 */
#include "arch/x86_64/asm.h"
#include "arch/x86_64/io.h"
#include "core/arch.h"
#include "core/log.h"

#define APIC_PHYS 0xFEE00000ull
#define APIC_SVR 0xF0
#define APIC_EOI 0xB0
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3E0
#define APIC_TPR 0x80

#define PIT_HZ 1193182ull
#define CAL_MS 50ull

static volatile uint32_t *apic;
static uint64_t tsc0, tsc_hz, apic_hz, mult;

static uint32_t apic_rd(uint32_t reg)
{
	return apic[reg / 4];
}

static void apic_wr(uint32_t reg, uint32_t v)
{
	apic[reg / 4] = v;
}

static uint64_t round_mhz(uint64_t hz)
{
	return (hz + 500000) / 1000000 * 1000000;
}

/* Run PIT channel 2 for CAL_MS in mode 0; return TSC ticks and APIC counts
 * elapsed meanwhile. */
static void calibrate(uint64_t *tsc_ticks, uint64_t *apic_ticks)
{
	uint16_t count = (uint16_t)(PIT_HZ * CAL_MS / 1000);
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, no spk */
	outb(0x43, 0xB0); /* channel 2, lo/hi, mode 0 */
	outb(0x42, (uint8_t)count);
	outb(0x42, (uint8_t)(count >> 8));
	apic_wr(APIC_TIMER_DIV, 0xB); /* divide by 1 */
	apic_wr(APIC_LVT_TIMER, (1u << 16) | VEC_TIMER); /* masked */
	apic_wr(APIC_TIMER_INIT, 0xFFFFFFFF);
	uint64_t t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		;
	uint64_t t1 = rdtsc();
	uint32_t cur = apic_rd(APIC_TIMER_CUR);
	apic_wr(APIC_TIMER_INIT, 0);
	*tsc_ticks = t1 - t0;
	*apic_ticks = 0xFFFFFFFFull - cur;
}

void arch_time_init(void)
{
	/* Mask both 8259 PICs: the APIC timer is the only interrupt. */
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
	uint64_t base = rdmsr(MSR_APIC_BASE);
	wrmsr(MSR_APIC_BASE, base | (1u << 11)); /* global enable */
	apic = arch_phys_to_virt(APIC_PHYS);
	apic_wr(APIC_TPR, 0);
	apic_wr(APIC_SVR, 0x100 | VEC_SPURIOUS);

	uint64_t tt, at;
	calibrate(&tt, &at);
	tsc_hz = round_mhz(tt * 1000 / CAL_MS);
	apic_hz = round_mhz(at * 1000 / CAL_MS);
	if (!tsc_hz || !apic_hz)
		panic("time: calibration failed (tsc %llu, apic %llu ticks)",
		      (unsigned long long)tt, (unsigned long long)at);
	mult = (uint64_t)(((unsigned __int128)NS_PER_S << 32) / tsc_hz);
	apic_wr(APIC_LVT_TIMER, VEC_TIMER); /* one-shot, unmasked */
	tsc0 = rdtsc();
}

uint64_t arch_tsc_hz(void)
{
	return tsc_hz;
}

uint64_t arch_apic_hz(void)
{
	return apic_hz;
}

ns_t arch_now_ns(void)
{
	if (!mult)
		return 0;
	return (ns_t)(((unsigned __int128)(rdtsc() - tsc0) * mult) >> 32);
}

void arch_timer_oneshot(uint64_t ns)
{
	if (ns == UINT64_MAX) {
		apic_wr(APIC_TIMER_INIT, 0);
		return;
	}
	/* Round up: a timer that fires early costs a wasted decision. */
	unsigned __int128 c = ((unsigned __int128)ns * apic_hz + NS_PER_S - 1) /
	                      NS_PER_S;
	if (c == 0)
		c = 1;
	if (c > 0xFFFFFFFFu)
		c = 0xFFFFFFFFu;
	apic_wr(APIC_TIMER_INIT, (uint32_t)c);
}

void arch_timer_eoi(void)
{
	apic_wr(APIC_EOI, 0);
}
