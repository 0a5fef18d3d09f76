/*
 * Domains: a paravirtualized guest with its own address space, one vCPU, a
 * scheduler entity and its counters.
 *
 * Life cycle (state is guarded by the single hypervisor lock: the CPU with
 * interrupts off, since the hypervisor is not preemptible):
 *
 *   boot module --create--> ALIVE --FS_HC_SHUTDOWN--> EXITED
 *                             |
 *                             +--fault, privileged instruction--> KILLED
 *
 * While ALIVE the scheduler entity is registered (running, ready, blocked
 * or throttled: that is sched's business). EXITED and KILLED domains keep
 * their slot, name, counters and reason for the report; their memory and
 * page tables are back in the free pool at once.
 *
 * Invariants:
 *   1. ALIVE <=> se is registered with the scheduler and pml4 != 0.
 *   2. An ALIVE domain owns exactly mem_pages FRAME_GUEST frames.
 *   3. on_timer <=> the domain is blocked with a wake-up time on the list.
 */
#ifndef CORE_DOMAIN_H
#define CORE_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "accounting/tb.h"
#include "arch/x86_64/regs.h"
#include "core/arch.h"
#include "hypercall.h"
#include "hypervisor/common/domcfg.h"
#include "sched/sched.h"

enum dom_state { DOM_FREE = 0, DOM_ALIVE, DOM_EXITED, DOM_KILLED };

struct report_kv {
	char key[FS_REPORT_KEY_MAX + 1];
	uint64_t value; /* or the guest address of a live u64 */
	bool live;
};

struct domain {
	uint8_t fpu[FPU_AREA_SIZE] __attribute__((aligned(16)));
	struct regs regs; /* saved guest state while not on the CPU */
	domid_t id;
	enum dom_state state;
	struct domain_settings cfg; /* name: the domain's own (NAME-NNN) */
	uint64_t pml4;              /* physical address of its PML4 */
	uint64_t mem_bytes;
	ns_t created_ns;

	struct sched_entity se;
	ns_t wake_at;               /* when on the timer list */
	struct domain *timer_next;
	bool on_timer;

	uint64_t hypercalls;
	struct token_bucket console; /* bytes of console output */
	uint64_t console_dropped;
	struct report_kv kv[FS_REPORT_MAX];
	uint32_t n_kv;
	char exit_reason[160];
};

/* Create a domain named `name` from the ELF image in physical memory
 * [img_pa, img_pa + img_len) with settings `s`. Returns the domain (ALIVE,
 * blocked) or NULL with a reason in why[] (e.g. "out of memory: ..."). */
struct domain *domain_create(const struct domain_settings *s, const char *name,
                             uint64_t img_pa, uint64_t img_len, char *why,
                             size_t why_len);

/* End a domain: state, reason, scheduler, timer and memory. */
void domain_kill(struct domain *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void domain_exit(struct domain *d, uint64_t code, const char *msg);

struct domain *domain_at(uint32_t i); /* 0 .. domain_slots()-1 */
uint32_t domain_slots(void);
uint32_t domain_alive(void);
struct domain *domain_of(struct sched_entity *e);

/* Guest memory access. Ranges are checked against the domain's memory;
 * FS_EFAULT otherwise. Access goes through the direct map, never through
 * the guest's mappings, so SMAP stays on and any domain may be read. */
bool guest_range_ok(const struct domain *d, uint64_t gva, uint64_t len);
int guest_read(const struct domain *d, void *dst, uint64_t gva, uint64_t len);
int guest_write(const struct domain *d, uint64_t gva, const void *src,
                uint64_t len);

#endif
