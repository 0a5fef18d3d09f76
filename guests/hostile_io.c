/*
 * hostile, block and memory half (hostile.h): bad ring pages, bad
 * requests, bad reservation calls, and the ring abuses that must get the
 * domain killed.
 *
 * Every probe here is one call whose right answer the guest knows:
 *   - a ring page that is misaligned, outside the domain's memory or not
 *     populated: FS_HC_BLK_SETUP refuses (the domain lives on);
 *   - a request with a bad range (past the end, crossing it, wrapping the
 *     sector or byte arithmetic), a misaligned buffer, a bad length (0, not
 *     a sector multiple, over the maximum), an unknown operation, or a
 *     buffer outside the domain's memory: an error response, nothing
 *     else. Buffers that cross the end of memory are only ever written
 *     *from* (FS_BLK_OP_WRITE), so a back end that copied part of the range
 *     still cannot scribble on this domain's stack;
 *   - memory calls that are misaligned, outside the window, too large
 *     (including npages whose byte count wraps 2^64), that populate a
 *     populated page or free a free one, or whose status pointer is bad:
 *     refused, and refusal changes nothing, which the next legal call
 *     checks (a page the refused call populated anyway cannot be
 *     populated again; one it freed anyway can).
 * Any of these that succeeds is one bad_ok. Legal calls mixed in (a good
 * read, a ring filled to exactly FS_BLK_RING_SIZE, a page populated and
 * freed) must succeed, or count in good_err.
 *
 * The ring page, the canary page and the I/O buffer are page-aligned
 * statics that share their pages with nothing else, so ending with the
 * ring page handed back (end=ringfree) loses no other data.
 */
#include "blk.h"
#include "fs.h"
#include "hostile.h"
#include "mem.h"
#include "printf.h"

#define RSP_TIMEOUT_NS (200u * NS_PER_MS)
#define KILL_GRACE_NS (50u * NS_PER_MS)
#define CANARY 0x686f7374696c6521ull /* "hostile!" */
#define IOBUF_BYTES (FS_BLK_RING_SIZE * FS_BLK_SECTOR)

static _Alignas(4096) union blk_page ring_page;
static _Alignas(4096) uint8_t iobuf[IOBUF_BYTES];
static _Alignas(4096) volatile uint64_t canary_page[512];

static uint64_t mem_hi; /* end of the initial memory */
static struct blk disk;
static int have_disk;
static uint64_t next_id = 1;

void hostile_io_init(uint64_t end)
{
	mem_hi = end;
}

/* ---- block ring ---------------------------------------------------- */

/* Waits for the response to id (others are dropped). 0 and *out filled,
 * or -1 if none came within RSP_TIMEOUT_NS. */
static int wait_rsp(uint64_t id, struct fs_blk_rsp *out)
{
	ns_t deadline = fs_time_ns() + RSP_TIMEOUT_NS;

	for (;;) {
		while (blk_reap(&disk, out)) {
			if (out->id == id)
				return 0;
		}
		if (fs_time_ns() >= deadline)
			return -1;
		blk_wait(&disk, deadline);
	}
}

/* One request on its own: its status, or 1 if it got no response (counted
 * in no_rsp). */
static int64_t one_request(const char *what, uint8_t op, uint64_t sector,
                           uint32_t len, uint64_t buf)
{
	struct fs_blk_rsp rsp;
	uint64_t id = next_id++;

	if (blk_submit(&disk, id, op, sector, len, buf) < 0) {
		hostile_no_rsp("ring full: earlier requests unanswered");
		return 1;
	}
	blk_notify();
	if (wait_rsp(id, &rsp) < 0) {
		hostile_no_rsp(what);
		return 1;
	}
	return rsp.status;
}

static void bad_request(const char *what, uint8_t op, uint64_t sector,
                        uint32_t len, uint64_t buf)
{
	int64_t st = one_request(what, op, sector, len, buf);

	if (st != 1)
		hostile_bad(what, st);
}

int hostile_blk_setup(void)
{
	static const uint64_t wild[] = {
	    0,
	    0x1000,
	    FS_GUEST_BASE - 4096,
	    0x00007ffffffff000ull,
	    0x0000800000000000ull, /* non-canonical */
	    0xffff800000000000ull,
	    0xffffffff80000000ull,
	    0xfffffffffffff000ull,
	};
	uint64_t ring = FS_PTR(&ring_page);

	hostile_bad("blk setup: ring misaligned by 8",
	            fs_hc1(FS_HC_BLK_SETUP, ring + 8));
	hostile_bad("blk setup: ring misaligned by 2048",
	            fs_hc1(FS_HC_BLK_SETUP, ring + 2048));
	hostile_bad("blk setup: ring page just past memory",
	            fs_hc1(FS_HC_BLK_SETUP, mem_hi));
	hostile_bad("blk setup: ring page in the unpopulated window",
	            fs_hc1(FS_HC_BLK_SETUP, mem_hi + 64 * 4096));
	hostile_bad("blk setup: ring page beyond the window",
	            fs_hc1(FS_HC_BLK_SETUP, FS_GUEST_BASE + FS_GUEST_WINDOW));
	for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++)
		hostile_bad("blk setup: wild ring page",
		            fs_hc1(FS_HC_BLK_SETUP, wild[i]));

	int64_t err = blk_init_at(&disk, &ring_page);
	if (err == FS_ENOENT) {
		fs_printf("hostile: no disk: skipping the ring attacks\n");
		return -1;
	}
	if (!hostile_good("blk setup: the real ring page", err))
		return -1;
	have_disk = 1;
	fs_printf("hostile: disk of %llu sectors, max_len %u\n",
	          (unsigned long long)disk.sectors, disk.max_len);
	return 0;
}

void hostile_blk_round(void)
{
	uint64_t s = disk.sectors, buf = FS_PTR(iobuf), hi = mem_hi;
	uint32_t max = disk.max_len;

	if (!have_disk)
		return;
	/* bounds */
	bad_request("req: first sector past the end", FS_BLK_OP_READ, s, 512,
	            buf);
	bad_request("req: range crosses the end", FS_BLK_OP_READ, s - 1, 1024,
	            buf);
	bad_request("req: sector + count wraps 2^64", FS_BLK_OP_WRITE,
	            UINT64_MAX, 512, buf);
	bad_request("req: sector * 512 wraps 2^64", FS_BLK_OP_READ, 1ull << 55,
	            512, buf);
	bad_request("req: sector * 512 wraps to the disk's start",
	            FS_BLK_OP_WRITE, (1ull << 55) + 1, 512, buf);
	/* alignment and length */
	bad_request("req: buffer misaligned by 1", FS_BLK_OP_READ, 0, 512,
	            buf + 1);
	bad_request("req: buffer misaligned by 256", FS_BLK_OP_WRITE, 0, 512,
	            buf + 256);
	bad_request("req: read of length 0", FS_BLK_OP_READ, 0, 0, buf);
	bad_request("req: write of length 0", FS_BLK_OP_WRITE, 0, 0, buf);
	bad_request("req: length not a sector multiple", FS_BLK_OP_WRITE, 0,
	            100, buf);
	bad_request("req: length over the maximum", FS_BLK_OP_READ, 0,
	            max + FS_BLK_SECTOR, buf);
	bad_request("req: length 0xfffffe00", FS_BLK_OP_READ, 0, 0xfffffe00u,
	            buf);
	/* operation */
	bad_request("req: unknown operation 3", 3, 0, 512, buf);
	bad_request("req: unknown operation 255", 255, 0, 512, buf);
	/* buffers outside memory (reads land nowhere; crossing ones write) */
	bad_request("req: buffer at 0x1000", FS_BLK_OP_READ, 0, 512, 0x1000);
	bad_request("req: buffer just below memory", FS_BLK_OP_READ, 0, 512,
	            FS_GUEST_BASE - 512);
	bad_request("req: buffer just past memory", FS_BLK_OP_READ, 0, 512, hi);
	bad_request("req: buffer in the unpopulated window", FS_BLK_OP_READ, 0,
	            4096, hi + 64 * 4096);
	bad_request("req: buffer in the kernel half", FS_BLK_OP_READ, 0, 512,
	            0xffffffff80000000ull);
	bad_request("req: buffer non-canonical", FS_BLK_OP_READ, 0, 512,
	            0x0000800000000000ull);
	bad_request("req: write buffer crosses the end of memory",
	            FS_BLK_OP_WRITE, 0, 1024, hi - 512);
	bad_request("req: write buffer wraps 2^64", FS_BLK_OP_WRITE, 0, 4096,
	            0xfffffffffffffe00ull);

	/* legal: one read, then a ring filled to exactly its size */
	hostile_good("req: a good read",
	             one_request("req: a good read", FS_BLK_OP_READ, 0,
	                         FS_BLK_SECTOR, buf));
	{
		struct fs_blk_rsp rsp;
		uint64_t first = next_id, got = 0;
		int64_t worst = 0;

		for (uint32_t i = 0; i < FS_BLK_RING_SIZE; i++)
			blk_submit(&disk, next_id++, FS_BLK_OP_READ,
			           i % (s ? s : 1), FS_BLK_SECTOR,
			           buf + i * FS_BLK_SECTOR);
		blk_notify();
		while (got < FS_BLK_RING_SIZE) {
			if (wait_rsp(first + got, &rsp) < 0) {
				hostile_no_rsp("req: full ring");
				break;
			}
			if (rsp.status < worst)
				worst = rsp.status;
			got++;
		}
		hostile_good("req: a ring of exactly FS_BLK_RING_SIZE reads",
		             worst);
	}
}

/* Makes sure every submitted request has been answered, so the shared
 * indices say exactly what the guest's copies say. */
static void drain(void)
{
	struct fs_blk_rsp rsp;
	ns_t deadline = fs_time_ns() + RSP_TIMEOUT_NS;

	while (blk_outstanding(&disk) != 0 && fs_time_ns() < deadline) {
		while (blk_reap(&disk, &rsp))
			;
		blk_wait(&disk, deadline);
	}
}

/* Waits a little after an abuse, in case the back end acts on it from its
 * own timer rather than in the notify call. */
static void grace(void)
{
	ns_t until = fs_time_ns() + KILL_GRACE_NS;

	while (fs_time_ns() < until)
		fs_block_until(until);
}

int hostile_end_ring_overflow(void)
{
	if (!have_disk)
		return 0;
	drain();
	/* One past the rule: every slot "holds" a request (old ones) and the
	 * index claims 65 outstanding. */
	__atomic_store_n(&disk.ring->req_prod,
	                 disk.rsp_cons + FS_BLK_RING_SIZE + 1,
	                 __ATOMIC_RELEASE);
	hostile_bad("ring: req_prod 65 ahead of rsp_cons, notify",
	            blk_notify());
	grace();
	return 0;
}

int hostile_end_rsp_ahead(void)
{
	if (!have_disk)
		return 0;
	drain();
	/* rsp_cons one beyond rsp_prod, with a legal request to answer, so
	 * the back end has to look at the response side. */
	__atomic_store_n(&disk.ring->rsp_cons, disk.rsp_cons + 1,
	                 __ATOMIC_RELEASE);
	blk_submit(&disk, next_id++, FS_BLK_OP_READ, 0, FS_BLK_SECTOR,
	           FS_PTR(iobuf));
	hostile_bad("ring: rsp_cons beyond rsp_prod, notify", blk_notify());
	grace();
	return 0;
}

int hostile_end_ring_free(void)
{
	struct fs_mem_status st;
	int64_t err;

	if (!have_disk)
		return 0;
	drain();
	/* A request waits on the ring, not yet notified; then the page goes
	 * back. The back end must refuse the decrease, or never touch the
	 * page again (refuse the notify or kill the domain). */
	blk_submit(&disk, next_id++, FS_BLK_OP_READ, 0, FS_BLK_SECTOR,
	           FS_PTR(iobuf));
	st = (struct fs_mem_status){0};
	err = fs_mem_decrease(FS_PTR(&ring_page), 1, &st);
	if (err < 0) {
		fs_printf("hostile: the ring page's decrease was refused "
		          "(%lld)\n",
		          (long long)err);
		return 1;
	}
	err = blk_notify();
	if (err > 0)
		hostile_bad("ring: notify on a ring page handed back started "
		            "requests",
		            err);
	else
		fs_printf(
		    "hostile: notify on a freed ring page returned %lld\n",
		    (long long)err);
	grace();
	return 0;
}

/* ---- memory reservation ------------------------------------------- */

static int64_t inc(uint64_t gva, uint64_t n, uint64_t st)
{
	return fs_hc3(FS_HC_MEM_INCREASE, gva, n, st);
}

static int64_t dec(uint64_t gva, uint64_t n, uint64_t st)
{
	return fs_hc3(FS_HC_MEM_DECREASE, gva, n, st);
}

void hostile_mem_round(void)
{
	struct fs_mem_status st;
	uint64_t p = mem_hi, q = mem_hi + 64 * 4096;
	uint64_t stp = FS_PTR(&st), win_end = FS_GUEST_BASE + FS_GUEST_WINDOW;
	uint64_t canary = FS_PTR(canary_page);
	int64_t err;

	for (uint32_t i = 0; i < 512; i++)
		canary_page[i] = CANARY ^ i;

	/* arguments */
	hostile_bad("mem inc: misaligned by 1", inc(p + 1, 1, stp));
	hostile_bad("mem inc: misaligned by 2048", inc(p + 2048, 1, stp));
	hostile_bad("mem inc: below FS_GUEST_BASE", inc(0x1000, 1, stp));
	hostile_bad("mem inc: starts below FS_GUEST_BASE",
	            inc(FS_GUEST_BASE - 4096, 2, stp));
	hostile_bad("mem inc: beyond the window", inc(win_end, 1, stp));
	hostile_bad("mem inc: crosses the window's end",
	            inc(win_end - 4096, 2, stp));
	hostile_bad("mem inc: kernel half", inc(0xffffffff80000000ull, 1, stp));
	hostile_bad("mem inc: non-canonical",
	            inc(0x0000800000000000ull, 1, stp));
	hostile_bad("mem inc: FS_MEM_BATCH_MAX + 1 pages",
	            inc(p, FS_MEM_BATCH_MAX + 1, stp));
	hostile_bad("mem inc: UINT64_MAX pages", inc(p, UINT64_MAX, stp));
	hostile_bad("mem inc: 2^52 pages (bytes wrap to 0)",
	            inc(p, 1ull << 52, stp));
	hostile_bad("mem inc: 2^52 + 1 pages (bytes wrap to 4096)",
	            inc(p, (1ull << 52) + 1, stp));
	hostile_bad("mem inc: a page of the initial memory",
	            inc(canary, 1, stp));
	hostile_bad("mem inc: 0 pages, wild status pointer",
	            inc(p, 0, 0xffffffff80000000ull));
	hostile_bad("mem dec: a page never populated", dec(q, 1, stp));
	hostile_bad("mem dec: misaligned by 1", dec(canary + 1, 1, stp));
	hostile_bad("mem dec: below FS_GUEST_BASE", dec(0x1000, 1, stp));
	hostile_bad("mem dec: beyond the window", dec(win_end, 1, stp));
	hostile_bad("mem dec: UINT64_MAX pages", dec(canary, UINT64_MAX, stp));
	hostile_bad("mem dec: 2^52 + 1 pages (bytes wrap to 4096)",
	            dec(canary, (1ull << 52) + 1, stp));
	for (uint32_t i = 0; i < 512; i++) {
		if (canary_page[i] != (CANARY ^ i)) {
			hostile_bad("mem: a refused call changed a page", 0);
			break;
		}
	}

	/* a bad status pointer: refused, and nothing populated */
	hostile_bad("mem inc: status pointer in the kernel half",
	            inc(p, 1, 0xffffffff80000000ull));
	hostile_bad("mem inc: status pointer crosses the end of memory",
	            inc(p, 1, mem_hi - 16));
	/* Not counted: the ABI checks pointers before the call, so a refusal
	 * is expected, but a back end that fills st after populating would
	 * find it valid. Either way the state must stay consistent. */
	err = inc(p, 1, p);
	if (err >= 0) {
		fs_printf("hostile: status pointer in the page being populated "
		          "accepted\n");
		hostile_good("mem dec: undo", dec(p, 1, stp));
	}
	err = inc(p, 1, stp);
	if (err == FS_EINVAL) {
		hostile_bad("mem: a refused increase populated the page anyway",
		            0);
		return;
	}
	if (err == FS_ERANGE || err == FS_EAGAIN) {
		fs_printf("hostile: no room to grow (%lld): memory_max_mb "
		          "above memory_mb tests more\n",
		          (long long)err);
		return;
	}
	if (!hostile_good("mem inc: one page above the initial memory", err))
		return;

	/* p is populated, p + 4096 is not */
	hostile_bad("mem inc: the same page again", inc(p, 1, stp));
	hostile_bad("mem inc: a populated page and a free one", inc(p, 2, stp));
	hostile_bad("mem dec: a populated page and a free one", dec(p, 2, stp));
	hostile_bad("mem dec: status pointer in the kernel half",
	            dec(p, 1, 0xffffffff80000000ull));
	/* the refused calls changed nothing: p + 4096 is still free (a
	 * decrease of it is refused) and p is still populated (readable) */
	hostile_bad("mem: a refused increase populated the next page",
	            dec(p + 4096, 1, stp));
	if (*(volatile uint64_t *)p != 0)
		hostile_bad("mem: a new page did not read zero", 0);
	*(volatile uint64_t *)p = CANARY;
	hostile_good("mem dec: the page back", dec(p, 1, stp));
	hostile_bad("mem dec: the same page again", dec(p, 1, stp));
}
