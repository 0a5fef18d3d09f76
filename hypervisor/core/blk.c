/*
 * The paravirtual block device's back end: a memory-backed disk per domain,
 * the shared request ring of blkif.h, and admission through the domain's
 * I/O token buckets. docs/block-device.md describes the design.
 *
 * The disk. disk_mb of frames (FRAME_DISK, owned by the domain) reserved
 * when the domain is created, zeroed or filled from a boot blob, reached
 * through a three-level index of frame addresses (512 per index frame, so
 * 512 GiB at most; disk_mb is capped at 64 GiB).
 *
 * The queue. Requests are taken off the ring strictly in order. A bad
 * request is answered at once with an error. A good one is admitted only if
 * both buckets admit it; then it is carried out (a copy between the disk and
 * the guest's buffer) and answered. A refused request stops the queue: it
 * and everything behind it stay on the ring, and the retry timer is armed
 * for the exact time the buckets admit the head. Each request is admitted
 * as of the earliest time the buckets allow that is neither before it was
 * seen (seen_ns) nor before the request ahead of it (adm_last) -- not as
 * of the (later) moment a pass gets to it -- so neither the hypervisor's
 * nor the scheduler's latency eats into the guest's rate, and idle time
 * before a request was posted is never credited to it. The buckets have no
 * capacity of their own (tb capacity 0):
 * idle time banks nothing, the configured one-time bursts are the only
 * burst, and over any T seconds a domain moves at most rate * T + burst
 * plus one request.
 *
 * Preemptible passes. The copies are the domain's work and run in its own
 * time: in its FS_HC_BLK_NOTIFY, or, when that was cut short or the
 * buckets' timer fired, as the scheduler next dispatches it (b->kick,
 * blk_dispatch(), charged to it like any of its time). A pass polls
 * run_preempt_due() before each request, between checking a request and
 * admitting it, and before each page step and each chunk of at most
 * BLK_CHUNK_BYTES of a copy, and stops when the APIC deadline has passed
 * (a wake-up, a timer, the end of the slice): the interrupt is taken as
 * soon as the CPU is back in the guest, so another domain's due wake-up
 * waits for one such step (a few hundred instructions), not for a queue of
 * copies, and BVT then decides who runs -- a warped domain before the
 * copying one. A notify that finds the deadline passed already runs no
 * pass at all: it only dates the new requests and leaves the pass to the
 * dispatch. A head interrupted mid-copy was admitted and charged already;
 * it resumes where it stopped, from the hypervisor's own copy of the
 * request. A dispatch's pass makes some progress before it polls, so the
 * queue always moves (a notify's may stop before any: the kick it leaves
 * hands the queue to that dispatch). The buckets' timer only marks the work
 * and wakes the domain if it is blocked, and a domain with work pending is
 * not put to sleep by FS_HC_BLOCK (run_block): only its own time moves its
 * queue.
 *
 * blk_throttled_ns is the time requests waited for the buckets, summed over
 * requests: each adds its admission time minus the time it was seen, when
 * it is admitted. Requests are seen when the guest notifies (or a pass
 * reads the ring).
 *
 * A ring that breaks the rule of blkif.h (more than FS_BLK_RING_SIZE
 * requests outstanding, rsp_cons beyond rsp_prod) or whose page is gone
 * kills the domain, and only it.
 */
#include "core/lib.h"
#include "core/log.h"
#include "core/mm.h"
#include "core/run.h"
#include "core/space.h"
#include "accounting/wire.h"
#include "blkif.h"
#include "fs_errors.h"

#define IDX_SHIFT 9
#define IDX_N 512u
#define SECTORS_PER_PAGE (PAGE_SIZE / FS_BLK_SECTOR)
/* Bytes copied between two preemption points: bounds how long another
 * domain's due wake-up waits behind someone's copy (about 180 cycles per
 * KiB under TCG, bench/bench_blk.py; the guest page is looked up once per
 * page). Measured before the ring was mapped once per pass: 512 shaved
 * 0.3 us off the waker's p99 in test_blkio.py and cost 10-20% on 4 and
 * 64 KiB requests; 4096 added 1.4 us to it. */
#define BLK_CHUNK_BYTES 1024u

static struct domain *dom_of_retry(struct hv_timer *t)
{
	return (struct domain *)((char *)t -
	                         __builtin_offsetof(struct domain, blk.retry));
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

uint64_t blk_frames(uint32_t disk_mb)
{
	if (!disk_mb)
		return 0;
	uint64_t pages = (uint64_t)disk_mb << (20 - PAGE_SHIFT);
	uint64_t l1 = ceil_div(pages, IDX_N);
	uint64_t l2 = ceil_div(l1, IDX_N);
	return pages + l1 + l2 + 1;
}

static uint64_t *idx(uint64_t pa)
{
	return arch_phys_to_virt(pa);
}

/* The frame holding disk page p. */
static uint8_t *disk_page(const struct blk_dev *b, uint64_t p)
{
	uint64_t l2 = idx(b->root)[p >> (2 * IDX_SHIFT)];
	uint64_t l1 = idx(l2)[(p >> IDX_SHIFT) & (IDX_N - 1)];
	return arch_phys_to_virt(idx(l1)[p & (IDX_N - 1)]);
}

/* Allocate the frame for index slot *slot if empty. */
static int ensure(domid_t owner, uint64_t *slot)
{
	if (*slot)
		return FS_OK;
	return frame_alloc(owner, FRAME_DISK, slot);
}

static void io_limits_to_tb(const struct io_limits *io, struct tb_limits *by,
                            struct tb_limits *op)
{
	*by = (struct tb_limits){0, io->io_bps, io->io_burst_bytes};
	*op = (struct tb_limits){0, io->io_iops, io->io_burst_ops};
}

int blk_create(struct domain *d, const void *image, uint64_t image_len,
               char *why, size_t why_len)
{
	struct blk_dev *b = &d->blk;
	ns_t now = arch_now_ns();
	struct tb_limits by, op;
	io_limits_to_tb(&d->cfg.io, &by, &op);
	if (tb_pair_init(&b->tb, &by, &op, now)) {
		snprintf_k(why, why_len, "I/O limits out of range");
		return FS_ERANGE;
	}
	b->retry.fn = 0;
	if (!d->cfg.disk_mb)
		return FS_OK;
	uint64_t pages = (uint64_t)d->cfg.disk_mb << (20 - PAGE_SHIFT);
	if (image_len > pages * PAGE_SIZE) {
		snprintf_k(why, why_len,
		           "disk_image %s (%llu bytes) is larger than disk_mb",
		           d->cfg.disk_image, (unsigned long long)image_len);
		return FS_ERANGE;
	}
	if (frame_alloc(d->id, FRAME_DISK, &b->root))
		goto nomem;
	for (uint64_t p = 0; p < pages; p++) {
		uint64_t *l2 = &idx(b->root)[p >> (2 * IDX_SHIFT)];
		if (ensure(d->id, l2))
			goto nomem;
		uint64_t *l1 = &idx(*l2)[(p >> IDX_SHIFT) & (IDX_N - 1)];
		if (ensure(d->id, l1))
			goto nomem;
		if (ensure(d->id, &idx(*l1)[p & (IDX_N - 1)]))
			goto nomem;
	}
	b->sectors = pages * SECTORS_PER_PAGE;
	const uint8_t *src = image;
	for (uint64_t off = 0; off < image_len; off += PAGE_SIZE) {
		uint64_t n = image_len - off < PAGE_SIZE ? image_len - off
		                                         : PAGE_SIZE;
		memcpy(disk_page(b, off >> PAGE_SHIFT), src + off, n);
	}
	return FS_OK;
nomem:
	/* domain_create checked blk_frames() against the free pool. */
	blk_destroy(d);
	snprintf_k(why, why_len, "out of memory for a %u MiB disk",
	           d->cfg.disk_mb);
	return FS_ENOMEM;
}

static void free_index(uint64_t pa, int level)
{
	uint64_t *t = idx(pa);
	for (uint32_t i = 0; i < IDX_N; i++)
		if (t[i]) {
			if (level > 1)
				free_index(t[i], level - 1);
			else
				frame_free(t[i]);
		}
	frame_free(pa);
}

void blk_destroy(struct domain *d)
{
	struct blk_dev *b = &d->blk;
	run_timer_cancel(&b->retry);
	b->kick = false;
	b->head_live = false;
	if (b->root)
		free_index(b->root, 3);
	b->root = 0;
	b->sectors = 0;
	b->ring = 0;
	b->ring_hv = 0;
}

/* Requests posted up to req_prod are seen now: none is admitted before
 * it was seen. */
static void see_posted(struct domain *d, uint32_t req_prod, ns_t now)
{
	struct blk_dev *b = &d->blk;
	for (; b->seen != req_prod; b->seen++)
		b->seen_ns[b->seen % FS_BLK_RING_SIZE] = now;
}

static void retry_fire(struct hv_timer *t);

int64_t blk_setup(struct domain *d, uint64_t ring_gva)
{
	struct blk_dev *b = &d->blk;
	if (!b->sectors)
		return FS_ENOENT;
	if (ring_gva & (PAGE_SIZE - 1))
		return FS_EINVAL;
	if (!guest_range_ok(d, ring_gva, PAGE_SIZE))
		return FS_EFAULT;
	if (b->ring && b->req_cons != b->seen)
		return FS_EBUSY; /* requests still queued on the old ring */
	struct fs_blk_sring h;
	memset(&h, 0, sizeof(h));
	h.sectors = b->sectors;
	h.ring_size = FS_BLK_RING_SIZE;
	h.max_len = FS_BLK_MAX_LEN;
	guest_write(d, ring_gva, &h, 64);
	b->ring = ring_gva;
	b->ring_hv = 0;
	b->req_cons = b->rsp_prod = b->seen = 0;
	b->adm_last = 0;
	b->kick = false;
	b->head_live = false;
	b->retry.fn = retry_fire;
	return FS_OK;
}

/* Check one request; 0 if it may be carried out. */
static int32_t req_check(const struct domain *d, const struct fs_blk_req *r)
{
	const struct blk_dev *b = &d->blk;
	if (r->pad[0] || r->pad[1] || r->pad[2])
		return FS_EINVAL;
	if (r->op == FS_BLK_OP_FLUSH)
		return r->len == 0 ? FS_OK : FS_EINVAL;
	if (r->op != FS_BLK_OP_READ && r->op != FS_BLK_OP_WRITE)
		return FS_EINVAL;
	if (r->len == 0 || r->len > FS_BLK_MAX_LEN ||
	    r->len % FS_BLK_SECTOR || r->buf % FS_BLK_SECTOR)
		return FS_EINVAL;
	uint64_t n = r->len / FS_BLK_SECTOR;
	if (r->sector > b->sectors || n > b->sectors - r->sector)
		return FS_EINVAL;
	if (!guest_range_ok(d, r->buf, r->len))
		return FS_EFAULT;
	return FS_OK;
}

/* Copy more of the head request (b->head, admitted and charged), from
 * head_done on. Each step is the span that lies within one disk page and
 * one guest page: the guest page is looked up once (so a buffer the guest
 * gave back since it was checked fails the request, head_status
 * FS_EFAULT) and copied in chunks of at most BLK_CHUNK_BYTES, with a poll
 * before each step's lookups and before each chunk. Returns true when the
 * request is done (or failed), false if a due timer cut it short. Unless
 * the pass `moved` already, one chunk is copied before the first poll. */
static bool head_copy(struct domain *d, bool moved)
{
	struct blk_dev *b = &d->blk;
	const struct fs_blk_req *r = &b->head;
	while (b->head_done < r->len) {
		if (moved && run_preempt_due())
			return false;
		uint64_t off = r->sector * FS_BLK_SECTOR + b->head_done;
		uint64_t gva = r->buf + b->head_done, pa;
		uint64_t n = r->len - b->head_done;
		uint64_t din = off & (PAGE_SIZE - 1), gin = gva & (PAGE_SIZE - 1);
		if (n > PAGE_SIZE - din)
			n = PAGE_SIZE - din;
		if (n > PAGE_SIZE - gin)
			n = PAGE_SIZE - gin;
		if (!space_lookup(d->pml4, gva - gin, &pa)) {
			b->head_status = FS_EFAULT;
			return true;
		}
		uint8_t *disk = disk_page(b, off >> PAGE_SHIFT) + din;
		uint8_t *mem = (uint8_t *)arch_phys_to_virt(pa) + gin;
		for (uint64_t done = 0; done < n;) {
			if (moved && run_preempt_due())
				return false;
			moved = true;
			uint64_t c = n - done < BLK_CHUNK_BYTES ? n - done
			                                        : BLK_CHUNK_BYTES;
			if (r->op == FS_BLK_OP_READ)
				memcpy(mem + done, disk + done, c);
			else
				memcpy(disk + done, mem + done, c);
			done += c;
			b->head_done += (uint32_t)c;
		}
	}
	return true;
}

/* The head is done: count it if it succeeded. */
static void head_count(struct domain *d)
{
	const struct fs_blk_req *r = &d->blk.head;
	if (d->blk.head_status != FS_OK)
		return;
	if (r->op == FS_BLK_OP_READ) {
		d->u.blk_read_ops++;
		d->u.blk_read_bytes += r->len;
	} else {
		d->u.blk_write_ops++;
		d->u.blk_write_bytes += r->len;
	}
}

#define RING_OFF_REQ_CONS 4u
#define RING_OFF_RSP_PROD 8u
#define RING_OFF_REQ 64u
#define RING_OFF_RSP (64u + FS_BLK_RING_SIZE * 32u)

/* Answer the request at req_cons and take it off the ring, mapped at
 * `ring`. */
static void respond(struct domain *d, uint8_t *ring, uint64_t id, int32_t st,
                    uint32_t len)
{
	struct blk_dev *b = &d->blk;
	struct fs_blk_rsp rsp = {id, st, st == FS_OK ? len : 0};
	memcpy(ring + RING_OFF_RSP + (b->rsp_prod % FS_BLK_RING_SIZE) * 16u,
	       &rsp, 16);
	b->req_cons++;
	b->rsp_prod++;
}

/* The ring page, reached through the hypervisor's map of physical memory
 * instead of at every 16- or 32-byte access. The lookup (a page walk, ~100
 * instructions) is kept in ring_hv until the guest gives the page back
 * (blk_page_gone), because every pass and every notify starts here, and a
 * due wake-up waits for what a notify does before its first poll. NULL if
 * the page is not mapped. */
static uint8_t *ring_map(struct domain *d)
{
	struct blk_dev *b = &d->blk;
	uint64_t pa;
	if (!b->ring_hv && space_lookup(d->pml4, b->ring, &pa))
		b->ring_hv = arch_phys_to_virt(pa);
	return b->ring_hv;
}

void blk_page_gone(struct domain *d, uint64_t gva)
{
	if (d->blk.ring == gva)
		d->blk.ring_hv = 0;
}

/* Admit the request seen at seen_ns, of `bytes`, at the earliest time the
 * buckets allow it that is not before it was seen nor before the request
 * ahead of it, if that time is not after `real`: it is charged as of then
 * and the time it waited is counted. Otherwise nothing is charged and *at
 * is when to try again. */
static bool admit(struct domain *d, uint64_t bytes, ns_t seen_ns, ns_t real,
                  ns_t *at)
{
	struct blk_dev *b = &d->blk;
	ns_t t = b->adm_last > seen_ns ? b->adm_last : seen_ns;
	if (!tb_pair_consume(&b->tb, bytes, 1, t, at)) {
		/* *at is > t and finite: request sizes are far below
		 * TB_AMOUNT_MAX. */
		if (*at > real)
			return false;
		t = *at;
		if (!tb_pair_consume(&b->tb, bytes, 1, t, NULL))
			panic("blk: %s: buckets refused at their own retry time",
			      d->cfg.name);
	}
	b->adm_last = t;
	d->u.blk_throttled_ns += t - seen_ns;
	return true;
}

/* Run the queue until it is empty, the buckets refuse its head (the retry
 * timer is armed) or a timer is due (b->kick is set: the rest waits for the
 * domain's next dispatch). A dispatch's pass makes some progress (one
 * admission, one chunk of a copy, or one answer) before its first poll, so
 * the queue always moves; the guest's own pass (FS_HC_BLK_NOTIFY) may stop
 * before any, as `moved` says, because the kick it leaves hands the queue
 * to that dispatch. Returns the number of requests answered, or -1 if the
 * domain was killed for a hostile ring. */
static int64_t blk_run(struct domain *d, bool moved)
{
	struct blk_dev *b = &d->blk;
	uint32_t idx4[4];
	ns_t real = arch_now_ns();
	b->kick = false;
	uint8_t *ring = ring_map(d);
	if (!ring) {
		domain_kill(d, WIRE_WHY_KILL_BAD_HYPERCALL,
		            "block ring page at %llx is no longer mapped",
		            (unsigned long long)b->ring);
		return -1;
	}
	memcpy(idx4, ring, sizeof(idx4));
	uint32_t req_prod = idx4[0], rsp_cons = idx4[3];
	if ((uint32_t)(req_prod - b->req_cons) > FS_BLK_RING_SIZE ||
	    (uint32_t)(b->rsp_prod - rsp_cons) > FS_BLK_RING_SIZE ||
	    (uint32_t)(req_prod - rsp_cons) > FS_BLK_RING_SIZE ||
	    (uint32_t)(req_prod - b->seen) > FS_BLK_RING_SIZE) {
		domain_kill(d, WIRE_WHY_KILL_BAD_HYPERCALL,
		            "hostile block ring: req_prod %u rsp_cons %u, "
		               "%u taken, %u answered (at most %u outstanding)",
		            req_prod, rsp_cons, b->req_cons, b->rsp_prod,
		            FS_BLK_RING_SIZE);
		return -1;
	}
	see_posted(d, req_prod, real);
	int64_t answered = 0;
	while (b->head_live || b->req_cons != req_prod) {
		if (b->head_live) {
			bool done = head_copy(d, moved);
			moved = true;
			if (!done) {
				b->kick = true;
				break;
			}
			b->head_live = false;
			head_count(d);
			respond(d, ring, b->head.id, b->head_status,
			        b->head.len);
			answered++;
			continue;
		}
		if (moved && run_preempt_due()) {
			b->kick = true;
			break;
		}
		uint32_t slot = b->req_cons % FS_BLK_RING_SIZE;
		struct fs_blk_req r;
		memcpy(&r, ring + RING_OFF_REQ + slot * 32u, 32);
		int32_t st = req_check(d, &r);
		if (st == FS_OK) {
			/* Checking the buffer is the longest step before a
			 * copy starts: poll again rather than add the
			 * admission to it. The request stays on the ring
			 * and is checked again by the next pass. */
			if (moved && run_preempt_due()) {
				b->kick = true;
				break;
			}
			ns_t at;
			if (!admit(d, r.op == FS_BLK_OP_FLUSH ? 0 : r.len,
			           b->seen_ns[slot], real, &at)) {
				run_timer_arm(&b->retry, at);
				break;
			}
			if (r.op != FS_BLK_OP_FLUSH) {
				/* Admitted and charged: progress, so the
				 * copy polls before its first chunk. */
				b->head = r;
				b->head_done = 0;
				b->head_status = FS_OK;
				b->head_live = true;
				moved = true;
				continue;
			}
		}
		respond(d, ring, r.id, st, r.len);
		moved = true;
		answered++;
	}
	if (b->req_cons == req_prod && !b->head_live)
		run_timer_cancel(&b->retry);
	/* Publish: responses first, then the indices (x86 keeps store
	 * order; the compiler must too). */
	__asm__ volatile("" ::: "memory");
	memcpy(ring + RING_OFF_REQ_CONS, &b->req_cons, 4);
	memcpy(ring + RING_OFF_RSP_PROD, &b->rsp_prod, 4);
	if (answered)
		run_event(d);
	return answered;
}

/* Take note of the requests posted since the last pass, without running
 * one: they are seen now (none is admitted before). A ring that breaks the
 * rule goes to blk_run, which kills the domain. */
static void note_posted(struct domain *d)
{
	struct blk_dev *b = &d->blk;
	const uint8_t *ring = ring_map(d);
	uint32_t req_prod = 0;
	if (ring)
		memcpy(&req_prod, ring, 4);
	if (!ring || (uint32_t)(req_prod - b->req_cons) > FS_BLK_RING_SIZE ||
	    (uint32_t)(req_prod - b->seen) > FS_BLK_RING_SIZE) {
		(void)blk_run(d, false); /* kills it */
		return;
	}
	see_posted(d, req_prod, arch_now_ns());
}

int64_t blk_notify(struct domain *d)
{
	if (!d->blk.ring)
		return FS_ENOENT;
	/* While the head waits for its timer, the queue cannot move. */
	if (d->blk.retry.armed) {
		note_posted(d);
		return 0;
	}
	/* A timer is due already (it fell due during the guest's `syscall`,
	 * or just before, with the interrupt not yet taken): another
	 * domain's wake-up may be waiting. Even setting up a pass (mapping
	 * and checking the ring) would delay it, so leave the whole pass to
	 * the domain's next dispatch, as a pass cut short would. */
	if (run_preempt_due()) {
		note_posted(d);
		if (d->state == DOM_ALIVE)
			d->blk.kick = true;
		return 0;
	}
	int64_t n = blk_run(d, true);
	/* Cut short by a due timer: the scheduler runs as soon as the call
	 * returns (it is due already; this covers a pass that stopped on
	 * its own), and the rest follows in the domain's next turn. */
	if (n >= 0 && d->blk.kick)
		run_resched_soon();
	return n < 0 ? 0 : n;
}

void blk_dispatch(struct domain *d)
{
	struct blk_dev *b = &d->blk;
	if (!b->kick)
		return;
	if (d->state != DOM_ALIVE || !b->ring || b->retry.armed) {
		b->kick = false;
		return;
	}
	(void)blk_run(d, false);
}

/* The queue can move again (the head's wait is over, or the limits
 * changed): leave the pass to the domain's own time, and wake the domain
 * if it is blocked waiting for completions -- they come from that pass.
 * The pass dates admissions when the buckets allowed them, not when it
 * runs, so the wait for the CPU costs the domain none of its rate. */
static void blk_kick(struct domain *d)
{
	d->blk.kick = true;
	if (d->se.state == SCHED_BLOCKED)
		run_event(d);
}

/* The head's wait is over. */
static void retry_fire(struct hv_timer *t)
{
	struct domain *d = dom_of_retry(t);
	if (d->state == DOM_ALIVE && d->blk.ring)
		blk_kick(d);
}

int blk_set_limits(struct domain *d, const struct io_limits *io)
{
	struct tb_limits by, op;
	io_limits_to_tb(io, &by, &op);
	ns_t now = arch_now_ns();
	int rc = tb_pair_reconfigure(&d->blk.tb, &by, &op, now);
	if (rc)
		return rc;
	d->cfg.io = *io;
	/* The head may be admitted earlier (or later) now: re-run, in the
	 * domain's own time. */
	if (d->blk.retry.armed) {
		run_timer_cancel(&d->blk.retry);
		blk_kick(d);
	}
	return FS_OK;
}
