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

#include "accounting/counters.h"
#include "accounting/tb.h"
#include "arch/x86_64/regs.h"
#include "blkif.h"
#include "core/arch.h"
#include "hypercall.h"
#include "hypervisor/common/domcfg.h"
#include "sched/sched.h"

enum dom_state { DOM_FREE = 0, DOM_ALIVE, DOM_EXITED, DOM_KILLED };

/* The management link (mgmt.c). */
struct domain;
void mgmt_init(const struct hv_settings *hv);
void mgmt_start(void); /* the run starts: metering begins */
void mgmt_poll(void);  /* in the hypervisor's time: receive, send */
void mgmt_flush(void); /* before the end: push out what is queued */
void mgmt_event(struct domain *d, uint16_t kind, uint16_t why,
                uint64_t detail);

/* A one-shot hypervisor timer (run.c): fn runs in the hypervisor's own
 * time once `at` has passed. */
struct hv_timer {
	ns_t at;
	struct hv_timer *next;
	bool armed;
	void (*fn)(struct hv_timer *t);
};

/* The paravirtual block device's back end (blk.c). */
struct blk_dev {
	uint64_t root;      /* disk index: 3 levels of 512 frame addresses */
	uint64_t sectors;   /* 0: no disk */
	uint64_t ring;      /* guest address of the shared ring, 0: none */
	uint8_t *ring_hv;   /* its page in the hypervisor's map, once looked
	                     * up; 0 again when the guest gives it back */
	uint32_t req_cons;  /* our copies; the shared ones are never read */
	uint32_t rsp_prod;
	uint32_t seen;      /* req_prod as last read */
	ns_t seen_ns[FS_BLK_RING_SIZE]; /* when each slot's request was seen */
	ns_t adm_last;      /* admission time of the latest request */
	struct tb_pair tb;
	struct hv_timer retry; /* armed while the head waits for the buckets */
	/* Work left for the domain's own time (blk.c, "Preemptible passes"):
	 * the queue can move and the next dispatch of the domain runs it. */
	bool kick;
	/* The head request, admitted and charged, copied up to head_done
	 * bytes: it was interrupted by a due timer. Our own copy, so the
	 * guest cannot change it under us. */
	bool head_live;
	int32_t head_status;
	uint32_t head_done;
	struct fs_blk_req head;
};

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
	bool event_pending; /* an event no FS_HC_BLOCK has consumed yet */
	bool paused;        /* by the controller: off the CPU until unpaused */
	bool pause_wake;    /* it became runnable while paused */
	bool final_metered; /* dead, and its last counters went out */
	struct blk_dev blk;
	/* Memory: pages held, the ceiling (0: none), the growth bucket. */
	uint64_t max_pages;
	struct token_bucket mem_growth;
	ns_t mem_stamp;           /* usage_mem_set's stamp */
	struct usage_counters u;  /* blk_* and mem_* (cpu ones live in sched) */
	struct token_bucket console; /* bytes of console output */
	uint64_t console_dropped;
	struct report_kv kv[FS_REPORT_MAX];
	uint32_t n_kv;
	char exit_reason[160];
};

/* Boot modules by name: guest images (image=NAME, the module of a domain
 * line) and disk blobs (a module whose command line is blob=NAME). Kept
 * for the life of the boot, so domains can be created from them later. */
struct boot_image {
	char name[FS_NAME_MAX + 1];
	uint64_t pa, len;
	bool blob;
};
int image_register(const char *name, uint64_t pa, uint64_t len, bool blob);
const struct boot_image *image_find(const char *name, bool blob);

/* Create a domain named `name` from the ELF image in physical memory
 * [img_pa, img_pa + img_len) with settings `s`. Returns the domain (ALIVE,
 * blocked) or NULL with a reason in why[] (e.g. "out of memory: ..."). */
struct domain *domain_create(const struct domain_settings *s, const char *name,
                             uint64_t img_pa, uint64_t img_len, char *why,
                             size_t why_len);

/* End a domain: state, reason, scheduler, timer and memory. `why` is the
 * management link's enum wire_why: WIRE_WHY_FAULT_* for a crash,
 * WIRE_WHY_KILL_* for a kill by policy. */
void domain_kill(struct domain *d, uint16_t why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void domain_exit(struct domain *d, uint64_t code, const char *msg);

/* Raise the domain's event: wake it if it is blocked in FS_HC_BLOCK
 * (which then returns FS_BLOCK_EVENT), else make its next FS_HC_BLOCK
 * return at once (run.c). */
void run_event(struct domain *d);

/* Block device (blk.c). blk_create reserves and fills the disk: 0, or
 * FS_ENOMEM / FS_ENOENT with a reason in why[]. blk_frames is the frames a
 * disk of disk_mb needs (for domain_create's arithmetic). */
uint64_t blk_frames(uint32_t disk_mb);
int blk_create(struct domain *d, const void *image, uint64_t image_len,
               char *why, size_t why_len);
void blk_destroy(struct domain *d);
int64_t blk_setup(struct domain *d, uint64_t ring_gva);
int64_t blk_notify(struct domain *d);
/* The guest gave back its page at gva (mem_decrease): forget any
 * hypervisor pointer into it. */
void blk_page_gone(struct domain *d, uint64_t gva);
/* Run queued block work left for `d`'s own time (d->blk.kick), on the
 * scheduler's live clock as `d` is dispatched. */
void blk_dispatch(struct domain *d);
/* Change the I/O limits of a live domain; queued requests are kept and
 * the new limits apply from the next admission. 0 or FS_ERANGE. */
int blk_set_limits(struct domain *d, const struct io_limits *io);

/* Memory reservation (mem.c). */
void mem_init(struct domain *d, ns_t now);
int64_t mem_increase(struct domain *d, uint64_t gva, uint64_t npages,
                     uint64_t st_gva);
int64_t mem_decrease(struct domain *d, uint64_t gva, uint64_t npages,
                     uint64_t st_gva);
int mem_set_limits(struct domain *d, const struct mem_limits *m);
/* Bring mem_page_ns up to `now` (before a report or a METER). */
void mem_sync(struct domain *d, ns_t now);
/* Frames a domain's pages need in page tables, at most, for n pages. */
uint64_t mem_pt_frames(uint64_t npages);

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
