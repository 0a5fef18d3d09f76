/*
 * The block front end (blk.h): ring indices, barriers and the wait that
 * cannot lose a wake-up. The design notes are in blk.h.
 */
#include "blk.h"

static _Alignas(4096) union blk_page blk_static_page;

_Static_assert(sizeof(union blk_page) == 4096, "one page, nothing else");

int64_t blk_init_at(struct blk *b, union blk_page *page)
{
	int64_t err;

	*b = (struct blk){0};
	/* A fresh page: every index 0, as the back end starts its copies. */
	*page = (union blk_page){0};
	err = fs_hc1(FS_HC_BLK_SETUP, FS_PTR(page));
	if (err < 0)
		return err;
	b->ring = &page->sring;
	b->sectors = b->ring->sectors;
	b->max_len = b->ring->max_len;
	return 0;
}

int64_t blk_init(struct blk *b)
{
	return blk_init_at(b, &blk_static_page);
}

int blk_submit(struct blk *b, uint64_t id, uint8_t op, uint64_t sector,
               uint32_t len, uint64_t buf)
{
	struct fs_blk_req *r;

	if (blk_space(b) == 0)
		return FS_EBUSY;
	r = &b->ring->req[b->req_prod % FS_BLK_RING_SIZE];
	r->id = id;
	r->op = op;
	r->pad[0] = r->pad[1] = r->pad[2] = 0;
	r->len = len;
	r->sector = sector;
	r->buf = buf;
	b->req_prod++;
	/* release: the slot is written before the index that publishes it */
	__atomic_store_n(&b->ring->req_prod, b->req_prod, __ATOMIC_RELEASE);
	return 0;
}

/* Responses posted and not yet reaped. A back end that posted more than
 * were requested would be broken; the front end trusts only its own
 * count and never reads past req_prod. */
static uint32_t blk_ready(const struct blk *b)
{
	uint32_t prod = __atomic_load_n(&b->ring->rsp_prod, __ATOMIC_ACQUIRE);
	uint32_t n = prod - b->rsp_cons;

	return n <= blk_outstanding(b) ? n : blk_outstanding(b);
}

int blk_reap(struct blk *b, struct fs_blk_rsp *out)
{
	const struct fs_blk_rsp *r;

	if (blk_ready(b) == 0)
		return 0;
	r = &b->ring->rsp[b->rsp_cons % FS_BLK_RING_SIZE];
	out->id = r->id;
	out->status = r->status;
	out->len = r->len;
	b->rsp_cons++;
	/* release: the slot is read before the hypervisor may reuse it */
	__atomic_store_n(&b->ring->rsp_cons, b->rsp_cons, __ATOMIC_RELEASE);
	return 1;
}

int64_t blk_wait(struct blk *b, ns_t deadline_ns)
{
	if (blk_outstanding(b) == 0 || blk_ready(b) != 0)
		return 0;
	return fs_hc1(FS_HC_BLOCK, deadline_ns);
}

int64_t blk_io(struct blk *b, uint8_t op, uint64_t sector, uint32_t len,
               void *buf)
{
	static uint64_t next_id = 1ull << 63; /* apart from callers' ids */
	uint64_t id = next_id++;
	struct fs_blk_rsp rsp;
	int64_t err;

	err = blk_submit(b, id, op, sector, len, FS_PTR(buf));
	if (err < 0)
		return err;
	err = blk_notify();
	if (err < 0)
		return err;
	for (;;) {
		while (blk_reap(b, &rsp)) {
			if (rsp.id == id)
				return rsp.status;
		}
		err = blk_wait(b, FS_TIME_NEVER);
		if (err < 0)
			return err;
	}
}
