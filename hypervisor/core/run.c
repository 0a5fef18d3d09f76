/*
 * The CPU's run loop, tickless, and exact accounting of every nanosecond.
 *
 * Entry points: trap_entry (interrupts, exceptions) and syscall_entry_c
 * (hypercalls). Each returns the frame to resume; schedule() picks it.
 *
 * Time. Wall time is the TSC since boot (arch_now_ns). Time in the
 * hypervisor's own work -- an interrupt or exception and the decision and
 * switch that follow it -- is an "hv segment": it starts at hv_enter() and
 * ends when schedule() hands the CPU back, and is added to hv_total. The scheduler's
 * clock is wall time minus hv_total, frozen during a segment, so everything
 * outside segments is charged by sched/ to exactly one domain or to idle,
 * and
 *     sum(domain cpu_ns) + idle_ns + hv_ns == elapsed_ns
 * holds exactly. A hypercall's own work is charged to the caller. A yield
 * stays on the scheduler's live clock through the decision, so
 * sched_pick() charges the decision to the caller and the switch path after
 * it to the domain switched to: otherwise a guest yielding in a loop would
 * push its decisions onto the hypervisor's account and take CPU from its
 * neighbours without paying for it. A block or a shutdown takes the caller
 * off the CPU first; the decision after that is an hv segment (not idle),
 * and a block loop is bounded by the allowance like any wake-up.
 *
 * Tickless. After every decision the APIC timer is armed for the earliest
 * of: the slice sched_pick() returned, the first blocked domain's wake-up
 * time, the first hv timer, and the end of the run. No other timer
 * interrupt exists.
 *
 * Preemption points. The hypervisor itself is not preemptible, so work
 * that may be long (a domain's block copies) polls run_preempt_due() --
 * has the APIC deadline passed? -- between short steps, and stops when it
 * has: the pending interrupt is taken as soon as the CPU is back in the
 * guest, and a due wake-up waits only for one step. Such work is done in
 * the domain's own time: in its hypercall, or as it is dispatched
 * (blk_dispatch(), after the decision, on the live clock), so BVT decides
 * when it runs and charges it; a domain with such work pending does not
 * block (run_block), or it could wait for work that only it can do.
 */
#include "core/run.h"

#include "arch/x86_64/asm.h"

#include "accounting/wire.h"

#include "core/lib.h"
#include "core/log.h"
#include "core/mm.h"
#include "core/param.h"
#include "fs_errors.h"

static struct sched S;
static uint64_t S_mem[(MAX_DOMAINS * 80 + 64) / 8];
static struct hv_settings cfg;

static struct domain *cur;   /* domain whose state is on the CPU, or NULL */
static ns_t apic_at = UINT64_MAX; /* wall time the APIC timer is due */
static bool in_hv;
static ns_t hv_start, hv_total, t_start, run_end;
static struct domain *timer_head; /* sorted by wake_at */
static struct hv_timer *hv_timers; /* sorted by at */
static bool started;
static uint64_t nr_traps, nr_timer_irqs, nr_link_irqs, nr_nmis;

static void hv_enter(void)
{
	if (!in_hv) {
		hv_start = arch_now_ns();
		in_hv = true;
	}
}

/* Wall time, frozen during an hv segment. */
static ns_t wall_now(void)
{
	return in_hv ? hv_start : arch_now_ns();
}

static ns_t sched_now(void)
{
	return wall_now() - hv_total;
}

void run_init(const struct hv_settings *hv)
{
	cfg = *hv;
	if (sched_mem_size(MAX_DOMAINS) > sizeof(S_mem))
		panic("run: scheduler memory too small");
}

/* Domains created before run_start() join the scheduler there. */
void run_add(struct domain *d)
{
	if (!started)
		return;
	int rc = sched_add(&S, &d->se, d->id, &d->cfg.sp, sched_now());
	if (rc)
		panic("run: sched_add %s: %d", d->cfg.name, rc);
	sched_wake(&S, &d->se, sched_now());
}

/* Make a blocked domain runnable, unless the controller paused it: then
 * it is woken when unpaused. */
static void wake(struct domain *d)
{
	if (d->paused)
		d->pause_wake = true;
	else
		sched_wake(&S, &d->se, sched_now());
}

int run_pause(struct domain *d)
{
	if (d->state != DOM_ALIVE)
		return FS_EBUSY;
	if (d->paused)
		return FS_OK;
	hv_enter();
	d->paused = true;
	d->pause_wake = d->se.state != SCHED_BLOCKED;
	if (d->pause_wake)
		sched_block(&S, &d->se, sched_now());
	mgmt_event(d, WIRE_EV_PAUSED, WIRE_WHY_NONE, 0);
	return FS_OK;
}

int run_unpause(struct domain *d)
{
	if (d->state != DOM_ALIVE)
		return FS_EBUSY;
	if (!d->paused)
		return FS_OK;
	hv_enter();
	d->paused = false;
	if (d->pause_wake)
		sched_wake(&S, &d->se, sched_now());
	d->pause_wake = false;
	mgmt_event(d, WIRE_EV_UNPAUSED, WIRE_WHY_NONE, 0);
	return FS_OK;
}

int run_set_params(struct domain *d, const struct sched_params *sp)
{
	if (d->state != DOM_ALIVE)
		return FS_EBUSY;
	if (sched_params_check(sp))
		return FS_ERANGE;
	int rc = sched_set_params(&S, &d->se, sp, sched_now());
	if (rc == 0)
		d->cfg.sp = *sp;
	return rc;
}

void run_usage(struct domain *d, struct usage_counters *u)
{
	struct sched_counters c;
	sched_counters(&S, &d->se, sched_now(), &c);
	if (d->state == DOM_ALIVE) {
		mem_sync(d, wall_now());
	}
	*u = d->u;
	u->cpu_ns = c.cpu_ns;
	u->ready_ns = c.ready_ns;
	u->cap_throttled_ns = c.cap_throttled_ns;
	u->warped_ns = c.warped_ns;
	u->dispatches = c.dispatches;
	u->wakeups = c.wakeups;
	u->hypercalls = d->hypercalls;
}

ns_t run_wall_ns(void)
{
	return wall_now();
}

__attribute__((noreturn)) static void finish(const char *why);

void run_shutdown(void)
{
	finish("shut down by the controller");
}

static void timer_remove(struct domain *d)
{
	if (!d->on_timer)
		return;
	for (struct domain **p = &timer_head; *p; p = &(*p)->timer_next)
		if (*p == d) {
			*p = d->timer_next;
			break;
		}
	d->on_timer = false;
	d->timer_next = 0;
}

static void timer_insert(struct domain *d, ns_t at)
{
	timer_remove(d);
	d->wake_at = at;
	struct domain **p = &timer_head;
	while (*p && (*p)->wake_at <= at)
		p = &(*p)->timer_next;
	d->timer_next = *p;
	*p = d;
	d->on_timer = true;
}

void run_timer_cancel(struct hv_timer *t)
{
	if (!t->armed)
		return;
	for (struct hv_timer **p = &hv_timers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->armed = false;
	t->next = 0;
}

void run_timer_arm(struct hv_timer *t, ns_t at)
{
	run_timer_cancel(t);
	t->at = at;
	struct hv_timer **p = &hv_timers;
	while (*p && (*p)->at <= at)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
	t->armed = true;
	/* Outside an hv segment no decision follows to arm the APIC for it
	 * (a hypercall's fast path, a dispatch's block pass): arm it now if
	 * this timer is due first. */
	if (started && !in_hv && at < apic_at) {
		ns_t now = arch_now_ns();
		arch_timer_oneshot(at > now ? at - now : 1);
		apic_at = at > now ? at : now + 1;
	}
}

void run_event(struct domain *d)
{
	if (d->state != DOM_ALIVE)
		return;
	if (started && d->se.state == SCHED_BLOCKED &&
	    !(d->paused && d->pause_wake)) {
		timer_remove(d);
		d->regs.rax = FS_BLOCK_EVENT;
		wake(d);
	} else {
		d->event_pending = true;
	}
}

void run_remove(struct domain *d)
{
	timer_remove(d);
	if (!started)
		return;
	hv_enter(); /* the caller is charged up to here; the rest is ours */
	sched_remove(&S, &d->se, sched_now());
}

/* A report value: live ones are read from guest memory now (0 if the
 * address is no longer valid). */
static uint64_t kv_value(const struct domain *d, const struct report_kv *kv)
{
	uint64_t v = 0;
	if (!kv->live)
		return kv->value;
	if (guest_read(d, &v, kv->value, 8) != FS_OK)
		return 0;
	return v;
}

void run_snapshot_reports(struct domain *d)
{
	for (uint32_t i = 0; i < d->n_kv; i++) {
		d->kv[i].value = kv_value(d, &d->kv[i]);
		d->kv[i].live = false;
	}
}

void run_block(struct domain *d, ns_t deadline)
{
	/* Its block queue can move and only its own time moves it: stay
	 * runnable; FS_HC_BLOCK returns as if the deadline had passed, and
	 * the dispatch that follows answers what it can. */
	if (d->blk.kick)
		return;
	hv_enter(); /* the caller is charged up to here; the rest is ours */
	if (deadline != FS_TIME_NEVER)
		timer_insert(d, deadline);
	sched_block(&S, &d->se, sched_now());
}

void run_yield(struct domain *d)
{
	sched_yield_slice(&S, &d->se, sched_now());
}

bool run_preempt_due(void)
{
	return arch_now_ns() >= apic_at;
}

void run_resched_soon(void)
{
	ns_t now = arch_now_ns();

	if (apic_at <= now + 1)
		return;
	arch_timer_oneshot(1);
	apic_at = now + 1;
}

static const char *state_name(const struct domain *d)
{
	if (d->state == DOM_EXITED)
		return "exited";
	if (d->state == DOM_KILLED)
		return "killed";
	return d->se.state == SCHED_BLOCKED ? "blocked" : "running";
}

/* The machine-readable report hvboot parses (docs/architecture.md). */
static void report(void)
{
	ns_t now = sched_now();
	sched_charge(&S, now);
	log_raw("@report begin elapsed_ns=%llu idle_ns=%llu hv_ns=%llu "
	        "tsc_hz=%llu domains=%u",
	        (unsigned long long)(wall_now() - t_start),
	        (unsigned long long)sched_idle_ns(&S),
	        (unsigned long long)hv_total,
	        (unsigned long long)arch_tsc_hz(), domain_slots());
	for (uint32_t i = 0; i < domain_slots(); i++) {
		struct domain *d = domain_at(i);
		struct usage_counters c;
		run_usage(d, &c);
		const struct usage_counters *u = &c;
		log_raw("@domain id=%u name=%s state=%s cpu_ns=%llu "
		        "ready_ns=%llu warped_ns=%llu dispatches=%llu "
		        "wakeups=%llu hypercalls=%llu cpu_weight=%u "
		        "blk_read_ops=%llu blk_write_ops=%llu "
		        "blk_read_bytes=%llu blk_write_bytes=%llu "
		        "blk_throttled_ns=%llu mem_pages=%llu mem_page_ns=%llu "
		        "exit_reason=%s",
		        d->id, d->cfg.name, state_name(d),
		        (unsigned long long)c.cpu_ns,
		        (unsigned long long)c.ready_ns,
		        (unsigned long long)c.warped_ns,
		        (unsigned long long)c.dispatches,
		        (unsigned long long)c.wakeups,
		        (unsigned long long)d->hypercalls, d->cfg.sp.cpu_weight,
		        (unsigned long long)u->blk_read_ops,
		        (unsigned long long)u->blk_write_ops,
		        (unsigned long long)u->blk_read_bytes,
		        (unsigned long long)u->blk_write_bytes,
		        (unsigned long long)u->blk_throttled_ns,
		        (unsigned long long)u->mem_pages,
		        (unsigned long long)u->mem_page_ns,
		        d->exit_reason[0] ? d->exit_reason : "-");
		for (uint32_t k = 0; k < d->n_kv; k++)
			log_raw("@kv id=%u key=%s value=%llu", d->id,
			        d->kv[k].key,
			        (unsigned long long)kv_value(d, &d->kv[k]));
	}
	log_raw("@report end");
}

__attribute__((noreturn)) static void finish(const char *why)
{
	hv_enter(); /* freeze both clocks: the report is one instant */
	log_info("run: %s after %llu ms; %llu decisions, %llu timer "
	         "interrupts, %llu link interrupts, %llu traps, %llu NMIs",
	         why, (unsigned long long)((wall_now() - t_start) / NS_PER_MS),
	         (unsigned long long)sched_decisions(&S),
	         (unsigned long long)nr_timer_irqs,
	         (unsigned long long)nr_link_irqs,
	         (unsigned long long)nr_traps, (unsigned long long)nr_nmis);
	for (uint32_t i = 0; i < domain_slots(); i++) {
		struct domain *d = domain_at(i);
		if (d->console_dropped)
			log_info("%s: %llu console bytes dropped by the rate "
			         "limit",
			         d->cfg.name,
			         (unsigned long long)d->console_dropped);
	}
	const char *bad = mm_check();
	if (bad)
		panic("mm: %s", bad);
	mgmt_flush();
	report();
	arch_debug_exit(0);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Decide, switch, arm the timer, leave the hv segment if in one (after an
 * interrupt; after a hypercall the live clock charges the domains).
 * Returns the frame to resume. */
static struct regs *schedule(void)
{
	ns_t wall = in_hv ? hv_start : arch_now_ns();
	if (run_end && wall >= run_end)
		finish("run_ms reached");
	if (!domain_alive())
		finish("no domain left");
	while (timer_head && timer_head->wake_at <= wall) {
		struct domain *d = timer_head;
		timer_head = d->timer_next;
		d->on_timer = false;
		d->timer_next = 0;
		wake(d);
	}
	/* Timers and the link run in the hypervisor's own time only (after
	 * an interrupt), never on a hypercall's clock: an expired timer arms
	 * the APIC for at once, below. */
	if (in_hv)
		mgmt_poll();
	while (in_hv && hv_timers && hv_timers->at <= wall) {
		struct hv_timer *t = hv_timers;
		hv_timers = t->next;
		t->armed = false;
		t->next = 0;
		t->fn(t);
	}
	if (!domain_alive())
		finish("no domain left");
	uint64_t slice;
	struct sched_entity *e = sched_pick(&S, sched_now(), &slice);
	struct domain *next = e ? domain_of(e) : 0;
	if (next != cur) {
		if (cur && cur->state == DOM_ALIVE)
			arch_fpu_save(cur->fpu);
		if (next) {
			arch_segments_reset();
			arch_fpu_restore(next->fpu);
			arch_switch_space(next->pml4);
		}
		cur = next;
	}
	ns_t t_exit = arch_now_ns();
	if (in_hv)
		hv_total += t_exit - hv_start;
	in_hv = false;
	/* After the segment, sched time and wall time advance together, so
	 * the slice is measured from t_exit. */
	uint64_t until = slice;
	if (timer_head)
		until = min_u64(until, timer_head->wake_at > t_exit
		                               ? timer_head->wake_at - t_exit
		                               : 1);
	if (hv_timers)
		until = min_u64(until, hv_timers->at > t_exit
		                               ? hv_timers->at - t_exit
		                               : 1);
	if (run_end)
		until = min_u64(until, run_end > t_exit ? run_end - t_exit : 1);
	arch_timer_oneshot(until == SCHED_SLICE_INF ? UINT64_MAX : until);
	apic_at = until == SCHED_SLICE_INF ? UINT64_MAX : t_exit + until;
	if (next && next->blk.kick) {
		/* Its own time, on the live clock: charged to it. */
		blk_dispatch(next);
		if (next->state != DOM_ALIVE) /* a hostile ring */
			return schedule();
	}
	return next ? &next->regs : arch_idle_regs();
}

__attribute__((noreturn)) void run_start(void)
{
	/* Elapsed time, hv time and the scheduler's clock all start here:
	 * building the domains at boot is not part of the run. */
	hv_enter();
	t_start = hv_start;
	hv_total = 0;
	started = true;
	if (sched_init(&S, &cfg.sc, S_mem, sizeof(S_mem), MAX_DOMAINS,
	               sched_now()))
		panic("run: bad scheduler configuration");
	for (uint32_t i = 0; i < domain_slots(); i++) {
		struct domain *d = domain_at(i);
		if (d->state != DOM_ALIVE)
			continue;
		/* A boot-time domain's life, and its memory's integral,
		 * start with the run, like its CPU time. */
		d->created_ns = t_start;
		d->mem_stamp = t_start;
		d->u.mem_page_ns = 0;
		if (sched_add(&S, &d->se, d->id, &d->cfg.sp, sched_now()))
			panic("run: sched_add %s", d->cfg.name);
		sched_wake(&S, &d->se, sched_now());
	}
	if (cfg.run_ms)
		run_end = t_start + cfg.run_ms * NS_PER_MS;
	mgmt_start();
	log_info("run: %u domains, ctx_allow %llu us, run %llu ms",
	         domain_alive(), (unsigned long long)cfg.sc.ctx_allow_us,
	         (unsigned long long)cfg.run_ms);
	struct regs *r = schedule();
	__asm__ volatile("mov %0, %%rax\n\tjmp regs_return" : : "r"(r)
	                 : "rax", "memory");
	__builtin_unreachable();
}

static const char *const exc_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
	"#OF overflow", "#BR bound range", "#UD invalid opcode",
	"#NM device not available", "#DF double fault", "coprocessor overrun",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "reserved 15",
	"#MF x87 floating point", "#AC alignment check", "#MC machine check",
	"#XM SIMD floating point", "#VE virtualization", "#CP control protection",
};

static const char *exc_name(uint64_t v)
{
	return v < 32 && exc_names[v] ? exc_names[v] : "reserved exception";
}

static void dump_regs(enum log_level lvl, const struct regs *r)
{
	log_msg(lvl, "rip=%llx cs=%llx rflags=%llx rsp=%llx ss=%llx err=%llx "
	        "cr2=%llx",
	        (unsigned long long)r->rip, (unsigned long long)r->cs,
	        (unsigned long long)r->rflags, (unsigned long long)r->rsp,
	        (unsigned long long)r->ss, (unsigned long long)r->error,
	        (unsigned long long)arch_fault_addr());
	log_msg(lvl, "rax=%llx rbx=%llx rcx=%llx rdx=%llx rsi=%llx rdi=%llx "
	        "rbp=%llx",
	        (unsigned long long)r->rax, (unsigned long long)r->rbx,
	        (unsigned long long)r->rcx, (unsigned long long)r->rdx,
	        (unsigned long long)r->rsi, (unsigned long long)r->rdi,
	        (unsigned long long)r->rbp);
	log_msg(lvl, "r8=%llx r9=%llx r10=%llx r11=%llx r12=%llx r13=%llx "
	        "r14=%llx r15=%llx",
	        (unsigned long long)r->r8, (unsigned long long)r->r9,
	        (unsigned long long)r->r10, (unsigned long long)r->r11,
	        (unsigned long long)r->r12, (unsigned long long)r->r13,
	        (unsigned long long)r->r14, (unsigned long long)r->r15);
}

static void guest_fault(struct domain *d, const struct regs *r)
{
	log_warn("domain %u (%s): %s; its registers:", d->id, d->cfg.name,
	         exc_name(r->vector));
	dump_regs(LOG_WARN, r);
	if (r->vector == 14) {
		uint64_t a = arch_fault_addr();
		domain_kill(d, WIRE_WHY_FAULT_PAGE,
		            "%s at rip=%llx addr=%llx (%s, %s)",
		            exc_name(r->vector), (unsigned long long)r->rip,
		            (unsigned long long)a,
		            r->error & 1 ? "protection violation" : "not mapped",
		            r->error & 16 ? "instruction fetch"
		            : r->error & 2 ? "write"
		                           : "read");
	} else if (r->vector == 13) {
		domain_kill(d, WIRE_WHY_KILL_PRIVILEGED,
		            "%s at rip=%llx error=%llx (a privileged "
		               "instruction, I/O or a bad segment)",
		            exc_name(r->vector), (unsigned long long)r->rip,
		            (unsigned long long)r->error);
	} else {
		uint16_t why = r->vector == 0   ? WIRE_WHY_FAULT_DIVIDE
		               : r->vector == 6 ? WIRE_WHY_FAULT_INVALID_OPCODE
		                                : WIRE_WHY_FAULT_OTHER;
		domain_kill(d, why, "%s at rip=%llx error=%llx",
		            exc_name(r->vector), (unsigned long long)r->rip,
		            (unsigned long long)r->error);
	}
}

struct regs *trap_entry(struct regs *r)
{
	/* An NMI may land anywhere, in the middle of the hypervisor's own
	 * work too: count it and resume exactly where it hit. */
	if (r->vector == 2) {
		nr_nmis++;
		return r;
	}
	hv_enter();
	nr_traps++;
	bool user = arch_regs_from_user(r);
	if (user) {
		if (!cur)
			panic("trap from ring 3 with no current domain");
		cur->regs = *r;
	}
	if (r->vector < 32) {
		/* A double fault or machine check is never the guest's doing;
		 * any fault in ring 0 is a hypervisor bug. */
		if (!user || r->vector == 8 || r->vector == 18) {
			log_err("hypervisor fault: %s", exc_name(r->vector));
			dump_regs(LOG_ERROR, r);
			panic("%s in the hypervisor at rip=%llx cr2=%llx",
			      exc_name(r->vector), (unsigned long long)r->rip,
			      (unsigned long long)arch_fault_addr());
		}
		guest_fault(cur, r);
	} else if (r->vector == VEC_TIMER) {
		nr_timer_irqs++;
		arch_timer_eoi();
	} else if (r->vector == VEC_LINK) {
		nr_link_irqs++;
		arch_link_irq();
		arch_timer_eoi(); /* the local APIC's EOI, for any source */
	} else if (r->vector != VEC_SPURIOUS) {
		log_warn("unexpected interrupt vector %llu",
		         (unsigned long long)r->vector);
		arch_timer_eoi();
	}
	return schedule();
}

struct regs *syscall_entry_c(struct regs *r)
{
	struct domain *d = cur;
	if (!d)
		panic("syscall with no current domain");
	d->regs = *r;
	d->hypercalls++;
	if (!hypercall(d, &d->regs))
		return &d->regs; /* fast path: no decision needed */
	return schedule(); /* on the live clock: charged to the domains */
}
