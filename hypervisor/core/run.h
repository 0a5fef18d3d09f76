/*
 * Running domains: the glue between the CPU and sched/ (run.c), the entry
 * points from entry.S, and the usage report.
 */
#ifndef CORE_RUN_H
#define CORE_RUN_H

#include "arch/x86_64/regs.h"
#include "core/domain.h"
#include "hypervisor/common/domcfg.h"

void run_init(const struct hv_settings *hv);
/* Start scheduling: wake every domain and enter the first. No return. */
__attribute__((noreturn)) void run_start(void);

/* Called by domain.c. */
void run_add(struct domain *d);
void run_remove(struct domain *d);
void run_snapshot_reports(struct domain *d);

/* The controller's operations on a domain (management link). */
int run_pause(struct domain *d);
int run_unpause(struct domain *d);
int run_set_params(struct domain *d, const struct sched_params *sp);
/* Every counter of a domain, as of now. */
void run_usage(struct domain *d, struct usage_counters *u);
ns_t run_wall_ns(void);
__attribute__((noreturn)) void run_shutdown(void);

/* One-shot timers run in schedule(), in the hypervisor's time. */
void run_timer_arm(struct hv_timer *t, ns_t at);
void run_timer_cancel(struct hv_timer *t);

/* Preemption points for long work done for a domain (block copies): true
 * once the APIC timer is due (a wake-up, a timer, the slice's end), so the
 * work should stop and let the interrupt in. run_resched_soon() makes the
 * timer due at once, so the scheduler runs right after the current
 * hypercall returns to the guest. */
bool run_preempt_due(void);
void run_resched_soon(void);

/* Hypercall actions on the calling domain; each enters the hypervisor's
 * own time (the rest of the call is charged to the domain). */
void run_block(struct domain *d, ns_t deadline);
void run_yield(struct domain *d);

/* Entry points (entry.S). */
struct regs *trap_entry(struct regs *r);
struct regs *syscall_entry_c(struct regs *r);

/* Hypercall dispatch (hypercall.c): returns true if the caller must go
 * through the scheduler before returning to a guest. */
bool hypercall(struct domain *d, struct regs *r);

#endif
