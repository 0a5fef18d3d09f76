/*
 * The paravirtual block device: a split driver in the style of Xen's blkif.
 *
 * The guest (front end) owns one page of its memory, the shared ring, and
 * registers it with FS_HC_BLK_SETUP. It posts requests into req[] and
 * advances req_prod, then calls FS_HC_BLK_NOTIFY. The hypervisor (back end)
 * takes requests off the ring in order, checks each, admits it through the
 * domain's I/O token buckets (bytes and operations), carries it out against
 * the domain's disk and posts a response into rsp[], advancing rsp_prod.
 * Posting responses raises the domain's event: a guest blocked in
 * FS_HC_BLOCK wakes (with the scheduler's wake rules, warp included), and a
 * guest not blocked finds its next FS_HC_BLOCK returning at once.
 *
 * Indices are free-running u32 counters; slot = index % FS_BLK_RING_SIZE.
 * Who writes what:
 *   req_prod, rsp_cons, req[]       the guest
 *   req_cons, rsp_prod, rsp[],      the hypervisor (it keeps its own copies
 *   sectors, ring_size, max_len     and never reads these back)
 *
 * The guest's one rule: at most FS_BLK_RING_SIZE requests outstanding,
 *     req_prod - rsp_cons <= FS_BLK_RING_SIZE,
 * which guarantees the hypervisor a free response slot for every request.
 * A ring that breaks it, or whose rsp_cons runs ahead of rsp_prod, is
 * hostile: the domain is killed (only that domain). A bad request (bounds,
 * alignment, length, operation, buffer outside the guest's memory) is
 * answered with an error status and nothing else happens.
 *
 * A request the buckets refuse stays on the ring, and so does everything
 * behind it; the hypervisor resumes the queue from its own timer at the
 * exact time the buckets admit the head. Nothing is dropped: the guest sees
 * only slower completion. docs/block-device.md has the details.
 */
#ifndef FS_BLKIF_H
#define FS_BLKIF_H

#include <stdint.h>

#define FS_BLK_SECTOR 512u
#define FS_BLK_RING_SIZE 64u
#define FS_BLK_MAX_LEN (128u * 1024u) /* bytes per request */

enum fs_blk_op {
	FS_BLK_OP_READ = 0,  /* disk -> buffer */
	FS_BLK_OP_WRITE = 1, /* buffer -> disk */
	FS_BLK_OP_FLUSH = 2, /* a barrier: completes after every earlier
	                      * request; len 0, charged one operation */
};

/* A request: 32 bytes. len is a multiple of FS_BLK_SECTOR, 1..MAX_LEN
 * (0 for FLUSH); buf is FS_BLK_SECTOR-aligned; the range
 * [sector, sector + len / FS_BLK_SECTOR) lies inside the disk. */
struct fs_blk_req {
	uint64_t id;     /* the guest's own tag, echoed in the response */
	uint8_t op;      /* enum fs_blk_op */
	uint8_t pad[3];  /* zero */
	uint32_t len;    /* bytes */
	uint64_t sector; /* first sector */
	uint64_t buf;    /* guest address of the data */
};

/* A response: 16 bytes. status is 0 or a negative FS_E* code (FS_EINVAL
 * bad operation, length, alignment or range; FS_EFAULT buffer outside the
 * guest's memory). */
struct fs_blk_rsp {
	uint64_t id;
	int32_t status;
	uint32_t len; /* bytes transferred: the request's len on success */
};

/* The shared page: must be page-aligned in the guest's memory. */
struct fs_blk_sring {
	volatile uint32_t req_prod;
	volatile uint32_t req_cons;
	volatile uint32_t rsp_prod;
	volatile uint32_t rsp_cons;
	uint64_t sectors;   /* disk size, set by FS_HC_BLK_SETUP */
	uint32_t ring_size; /* FS_BLK_RING_SIZE */
	uint32_t max_len;   /* FS_BLK_MAX_LEN */
	uint8_t pad[32];
	struct fs_blk_req req[FS_BLK_RING_SIZE];
	struct fs_blk_rsp rsp[FS_BLK_RING_SIZE];
};

_Static_assert(sizeof(struct fs_blk_req) == 32, "ABI layout");
_Static_assert(sizeof(struct fs_blk_rsp) == 16, "ABI layout");
_Static_assert(sizeof(struct fs_blk_sring) == 64 + 64 * 48, "ABI layout");
_Static_assert(sizeof(struct fs_blk_sring) <= 4096, "one page");

/* Memory reservation (Xen's balloon model). FS_HC_MEM_INCREASE populates
 * npages zeroed pages at [gva, gva + npages * 4096), which must be
 * page-aligned, inside [FS_GUEST_BASE, FS_GUEST_BASE + FS_GUEST_WINDOW) and
 * not populated; FS_HC_MEM_DECREASE gives populated pages back to the
 * hypervisor's pool. At most FS_MEM_BATCH_MAX pages per call. A refusal
 * changes nothing and, if `st` is non-zero, says which limit refused and
 * when to retry. */
#define FS_GUEST_WINDOW (64ull << 30)
#define FS_MEM_BATCH_MAX 1024u

enum fs_mem_limit {
	FS_MEM_LIMIT_NONE = 0,   /* granted */
	FS_MEM_LIMIT_MAX = 1,    /* memory_max_mb: FS_ERANGE */
	FS_MEM_LIMIT_GROWTH = 2, /* the growth bucket: FS_EAGAIN, retry_ns */
	FS_MEM_LIMIT_HOST = 3,   /* the host's free memory: FS_ENOMEM */
	FS_MEM_LIMIT_ARGS = 4,   /* bad range, or a page (not) populated:
	                          * FS_EINVAL */
};

struct fs_mem_status {
	uint32_t limit;     /* enum fs_mem_limit */
	uint32_t pad;
	uint64_t retry_ns;  /* FS_MEM_LIMIT_GROWTH: earliest hypervisor time
	                     * at which the same request is granted */
	uint64_t pages;     /* pages the domain holds after the call */
	uint64_t max_pages; /* its ceiling; 0 = none but the host's memory */
};

_Static_assert(sizeof(struct fs_mem_status) == 32, "ABI layout");

#endif
