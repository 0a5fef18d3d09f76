/*
 * The guest's block front end: the shared ring of blkif.h driven from the
 * guest side.
 *
 * struct blk keeps the guest's private copies of the two indices it owns
 * (req_prod, rsp_cons) and only ever publishes them to the shared page, so
 * a hypervisor (or a bug) scribbling on the page cannot make the front end
 * break the ring rule
 *     req_prod - rsp_cons <= FS_BLK_RING_SIZE,
 * which blk_submit enforces by refusing a request when the ring is full.
 *
 * Ordering (x86 is TSO, so compiler barriers suffice, written as C11
 * atomics so the intent is explicit): a request slot is filled before
 * req_prod is stored with release; rsp_prod is loaded with acquire before
 * the response slots are read; a response is copied out before rsp_cons is
 * stored with release (the slot may be reused after that).
 *
 * Waiting without a lost wake-up: blk_wait() blocks in FS_HC_BLOCK only
 * after finding no response to reap. The hypervisor raises the domain's
 * event whenever it posts responses, and a pending event makes FS_HC_BLOCK
 * return at once, so a response posted between the check and the block
 * still ends the block. A spurious return (an event for responses already
 * reaped) is harmless: the caller just looks again.
 *
 * The back end executes requests strictly in ring order, each finished
 * before the next starts, so responses also come back in ring order; the
 * front end does not rely on it (callers match responses by id).
 */
#ifndef GUEST_BLK_H
#define GUEST_BLK_H

#include <stdint.h>

#include "blkif.h"
#include "fs.h"

struct blk {
	struct fs_blk_sring *ring; /* the registered shared page */
	uint64_t sectors;          /* disk size, from FS_HC_BLK_SETUP */
	uint32_t max_len;          /* bytes per request, from the back end */
	uint32_t req_prod;         /* private copy: next request index */
	uint32_t rsp_cons;         /* private copy: next response index */
};

/* One page for a ring, padded so nothing else shares it (a guest may hand
 * the page back to the hypervisor without losing other data). */
union blk_page {
	struct fs_blk_sring sring;
	uint8_t bytes[4096];
};

/* Registers the kit's static ring page (page-aligned, in .bss) with
 * FS_HC_BLK_SETUP and fills in b. Returns 0, FS_ENOENT if the domain has no
 * disk, or another FS_E* from the hypercall. Call once per domain. */
int64_t blk_init(struct blk *b);

/* The same with a caller-supplied ring page (must be 4096-aligned in the
 * guest's memory). */
int64_t blk_init_at(struct blk *b, union blk_page *page);

/* Requests submitted and not yet reaped: req_prod - rsp_cons. */
static inline uint32_t blk_outstanding(const struct blk *b)
{
	return b->req_prod - b->rsp_cons;
}

/* Free request slots under the ring rule. */
static inline uint32_t blk_space(const struct blk *b)
{
	return FS_BLK_RING_SIZE - blk_outstanding(b);
}

/* Fills the next request slot and publishes it (store-release of
 * req_prod). Does not notify: batch submissions, then blk_notify() once.
 * Returns 0, or FS_EBUSY if the ring is full (nothing written). */
int blk_submit(struct blk *b, uint64_t id, uint8_t op, uint64_t sector,
               uint32_t len, uint64_t buf);

/* Tells the hypervisor new requests are on the ring. Returns how many
 * requests this call started (they may have completed already: reap). */
static inline int64_t blk_notify(void)
{
	return fs_hc0(FS_HC_BLK_NOTIFY);
}

/* Takes one response off the ring into *out (copy, then store-release of
 * rsp_cons). Returns 1 if one was taken, 0 if none is posted. */
int blk_reap(struct blk *b, struct fs_blk_rsp *out);

/* Returns at once if a response can be reaped or nothing is outstanding
 * (so it never sleeps forever on an idle ring); otherwise blocks until an
 * event or deadline_ns (FS_TIME_NEVER: only an event). Returns FS_HC_BLOCK's
 * result (0 or FS_BLOCK_EVENT; negative on a refusal); 0 when it did not
 * block. */
int64_t blk_wait(struct blk *b, ns_t deadline_ns);

/* One request, synchronously: submit, notify, wait for the response with
 * id and return its status (0 or a negative FS_E*). Other responses that
 * arrive first are dropped, so use it only on an otherwise idle ring.
 * FS_EBUSY if the ring is full. */
int64_t blk_io(struct blk *b, uint8_t op, uint64_t sector, uint32_t len,
               void *buf);

#endif
