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
 * for the exact time the buckets admit the head. When the timer fires, the
 * queue is resumed as of that time -- the admission is dated at the
 * deadline, not at the (slightly later) moment the interrupt was served,
 * so the hypervisor's own latency never eats into the guest's rate. The
 * buckets have no capacity of their own (tb capacity 0): idle time banks
 * nothing, the configured one-time bursts are the only burst, and over any
 * T seconds a domain moves at most rate * T + burst plus one request.
 *
 * blk_throttled_ns is the time requests waited for the buckets, summed over
 * requests: between two events the queue's length times the elapsed time
 * is added. Requests are seen when the guest notifies.
 *
 * A ring that breaks the rule of blkif.h (more than FS_BLK_RING_SIZE
 * requests outstanding, rsp_cons beyond rsp_prod) or whose page is gone
 * kills the domain, and only it.
 */
#include "core/lib.h"
#include "core/log.h"
#include "core/mm.h"
#include "core/run.h"
#include "accounting/wire.h"
#include "blkif.h"
#include "fs_errors.h"

#define IDX_SHIFT 9
#define IDX_N 512u
#define SECTORS_PER_PAGE (PAGE_SIZE / FS_BLK_SECTOR)
/* Bytes copied per pass over the queue, in a hypercall or from the timer:
 * the hypervisor is not preemptible, so this bounds how long another
 * domain's due wake-up can wait behind someone's I/O. */
#define BLK_PASS_BYTES (16u * 1024u)

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

/* Time waited by the queued requests up to now. */
static void wait_account(struct domain *d, ns_t now)
{
	struct blk_dev *b = &d->blk;
	if (now > b->wait_stamp) {
		d->u.blk_throttled_ns += b->waiting * (now - b->wait_stamp);
		b->wait_stamp = now;
	}
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
	wait_account(d, arch_now_ns());
	b->waiting = 0;
	if (b->root)
		free_index(b->root, 3);
	b->root = 0;
	b->sectors = 0;
	b->ring = 0;
}

void blk_sync(struct domain *d, ns_t now)
{
	wait_account(d, now);
}

/* Requests posted up to req_prod are seen now: their wait starts. */
static void see_posted(struct domain *d, uint32_t req_prod, ns_t now)
{
	struct blk_dev *b = &d->blk;
	wait_account(d, now);
	b->waiting += (uint32_t)(req_prod - b->seen);
	b->seen = req_prod;
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
	b->req_cons = b->rsp_prod = b->seen = 0;
	b->waiting = 0;
	b->wait_stamp = arch_now_ns();
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

/* Carry out a checked read or write. */
static void req_do(struct domain *d, const struct fs_blk_req *r)
{
	uint64_t off = r->sector * FS_BLK_SECTOR, buf = r->buf, left = r->len;
	while (left) {
		uint64_t in = off & (PAGE_SIZE - 1);
		uint64_t n = PAGE_SIZE - in < left ? PAGE_SIZE - in : left;
		uint8_t *pg = disk_page(&d->blk, off >> PAGE_SHIFT) + in;
		if (r->op == FS_BLK_OP_READ)
			guest_write(d, buf, pg, n);
		else
			guest_read(d, pg, buf, n);
		off += n;
		buf += n;
		left -= n;
	}
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

/* Run the queue as of `now`. Returns the number of requests answered, or
 * -1 if the domain was killed for a hostile ring. */
static int64_t blk_run(struct domain *d, ns_t now)
{
	struct blk_dev *b = &d->blk;
	uint32_t idx4[4];
	if (guest_read(d, idx4, b->ring, sizeof(idx4))) {
		domain_kill(d, WIRE_WHY_KILL_BAD_HYPERCALL,
		            "block ring page at %llx is no longer mapped",
		            (unsigned long long)b->ring);
		return -1;
	}
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
	see_posted(d, req_prod, now);
	int64_t answered = 0;
	uint64_t budget = BLK_PASS_BYTES;
	while (b->req_cons != req_prod) {
		if (answered && budget == 0) {
			/* Bounded work per pass: the rest continues from the
			 * timer at once, after due wake-ups are taken. */
			run_timer_arm(&b->retry, now);
			break;
		}
		uint32_t slot = b->req_cons % FS_BLK_RING_SIZE;
		struct fs_blk_req r;
		guest_read(d, &r, b->ring + RING_OFF_REQ + slot * 32u, 32);
		int32_t st = req_check(d, &r);
		if (st == FS_OK) {
			uint64_t bytes = r.op == FS_BLK_OP_FLUSH ? 0 : r.len;
			ns_t at;
			if (!tb_pair_consume(&b->tb, bytes, 1, now, &at)) {
				/* at is > now and finite: request sizes are
				 * far below TB_AMOUNT_MAX. */
				run_timer_arm(&b->retry, at);
				break;
			}
			if (r.op != FS_BLK_OP_FLUSH)
				req_do(d, &r);
			budget = r.len >= budget ? 0 : budget - r.len;
		}
		struct fs_blk_rsp rsp = {r.id, st, st == FS_OK ? r.len : 0};
		guest_write(d, b->ring + RING_OFF_RSP +
		                   (b->rsp_prod % FS_BLK_RING_SIZE) * 16u,
		            &rsp, 16);
		b->req_cons++;
		b->rsp_prod++;
		b->waiting--;
		answered++;
	}
	if (b->req_cons == req_prod)
		run_timer_cancel(&b->retry);
	/* Publish: responses first, then the indices (x86 keeps store
	 * order; the compiler must too). */
	__asm__ volatile("" ::: "memory");
	guest_write(d, b->ring + RING_OFF_REQ_CONS, &b->req_cons, 4);
	guest_write(d, b->ring + RING_OFF_RSP_PROD, &b->rsp_prod, 4);
	if (answered)
		run_event(d);
	return answered;
}

int64_t blk_notify(struct domain *d)
{
	if (!d->blk.ring)
		return FS_ENOENT;
	/* While the head waits for its timer, the queue cannot move: just
	 * take note of the new requests (their wait starts now). */
	if (d->blk.retry.armed) {
		struct blk_dev *b = &d->blk;
		uint32_t req_prod;
		if (guest_read(d, &req_prod, b->ring, 4) ||
		    (uint32_t)(req_prod - b->req_cons) > FS_BLK_RING_SIZE) {
			(void)blk_run(d, arch_now_ns()); /* kills it */
			return 0;
		}
		see_posted(d, req_prod, arch_now_ns());
		return 0;
	}
	int64_t n = blk_run(d, arch_now_ns());
	return n < 0 ? 0 : n;
}

/* The head's wait is over: resume as of the deadline. */
static void retry_fire(struct hv_timer *t)
{
	struct domain *d = dom_of_retry(t);
	if (d->state == DOM_ALIVE && d->blk.ring)
		blk_run(d, t->at);
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
	/* The head may be admitted earlier (or later) now: re-run. */
	if (d->blk.retry.armed) {
		run_timer_cancel(&d->blk.retry);
		blk_run(d, now);
	}
	return FS_OK;
}
