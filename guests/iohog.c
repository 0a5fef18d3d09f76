/*
 * iohog: block I/O as fast as the domain's I/O buckets allow, keeping qd
 * requests in flight, with every read checked against what was written.
 *
 * The disk region [0, region) is cut into blocks of one request each
 * (req_kb); every request reads or writes one whole block, picked at
 * random, reads with probability mix %. The guest keeps, per block, the
 * generation of the last write it submitted (0: never written). A write
 * takes the next value of one global generation counter and fills the
 * block with a pattern of (first sector, generation): a 4-word header
 * {magic ^ sector, sector, generation, checksum of the body} and a body
 * of words derived from both. A read remembers the generation it must see
 * when it is submitted; because the back end executes requests strictly in
 * ring order, one after the other, that is exactly what the disk holds
 * when the read runs, even with a write to the same block still in flight
 * ahead of it. On completion the read checks header, checksum and every
 * body word; any difference counts one mismatch. A never-written block
 * must read as zeros (the disk starts zeroed) with fresh=zero; with
 * fresh=any (a disk_image) it is not checked. Read buffers are poisoned
 * (first and last word of every sector) before submission, so a transfer
 * that never happened cannot pass. A write that fails leaves its block's
 * content unknown: the block is not checked until written again.
 *
 * Counters count only status-0 responses, by operation, so they must equal
 * the hypervisor's blk_* counters exactly once nothing is in flight;
 * non-zero statuses count in errors.
 *
 * Memory: the per-block table is a static of IOHOG_MAX_BLOCKS entries (a
 * larger region is cut down to fit), and the qd buffers of req_kb each
 * come from the initial memory above the image, below a 64 KiB stack
 * reserve: memory_mb must hold them (8 x 64 KiB needs 1 MiB more).
 *
 * Args:
 *   req_kb=N       request size in KiB, 1..128 (default 4)
 *   mix=N          percent reads, 0..100 (default 50)
 *   qd=N           requests in flight, 1..64 (default 8)
 *   duration_ms=N  stop submitting after N ms, drain, then `end`; 0 runs
 *                  until the run ends (default 0)
 *   region_mb=N    use the first N MiB of the disk (default 0: all of it,
 *                  up to IOHOG_MAX_BLOCKS blocks)
 *   seed=N         RNG seed (default 1)
 *   verify=0|1     write patterns and check reads (default 1)
 *   fresh=zero|any never-written blocks must read as zeros, or are not
 *                  checked (default zero)
 *   readback=0|1   after duration_ms, read every block of the region once
 *                  more, in order, and check it (default 0)
 *   end=exit|idle  after duration_ms (and the readback): shut down DONE,
 *                  or block forever (default exit)
 * Live reports: ops, bytes, read_ops, write_ops, read_bytes, write_bytes
 * (status-0 completions), errors (non-zero statuses), mismatches,
 * first_s_ops, first_s_bytes (completions observed within 1 s of the first
 * submission), start_ns (time of the first submission), last_ns (time the
 * latest completion was observed), checked_blocks (reads of the readback
 * pass that completed; each was checked like any read), notifies and
 * notify_cycles (FS_HC_BLK_NOTIFY calls and the TSC cycles spent in them,
 * read around each call: the back end's synchronous cost, hypercall entry
 * and exit included, for make bench; alone on the CPU nothing else runs
 * inside that window).
 */
#include "args.h"
#include "blk.h"
#include "fs.h"
#include "printf.h"
#include "string.h"

#define IOHOG_MAX_BLOCKS 65536u     /* 256 KiB of generations */
#define STACK_RESERVE (64u * 1024u) /* kept free below the top */
#define GEN_UNKNOWN UINT32_MAX      /* content unknown: do not check */
#define MAGIC 0x696f686f67000000ull /* "iohog" */
#define BODY_MUL 0x9e3779b97f4a7c15ull
#define MISMATCH_PRINT 4u

extern char _end[]; /* guest.ld: first byte after the image */

static _Alignas(8) volatile uint64_t ops, bytes, read_ops, write_ops,
    read_bytes, write_bytes, errors, mismatches, first_s_ops,
    first_s_bytes, start_ns, last_ns, checked_blocks, notifies,
    notify_cycles;

static uint32_t gen_of[IOHOG_MAX_BLOCKS]; /* last submitted write's gen */
static uint32_t gen_next = 1;             /* skips 0 and GEN_UNKNOWN */

struct slot {
	uint64_t block;
	uint32_t expect; /* reads: the generation the disk holds */
	uint8_t op;
	uint8_t busy;
	uint8_t readback; /* one of the final pass's reads */
	uint64_t *buf;
};

static struct slot slots[FS_BLK_RING_SIZE];
static uint32_t free_ids[FS_BLK_RING_SIZE], n_free;

static struct blk disk;
static uint64_t rng_state;
static uint64_t req_bytes, req_sectors, n_blocks;
static int verify, fresh_any, readback_pass;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The first body word of (sector, gen); word i adds i * BODY_MUL, so every
 * word of every block differs and a shifted or stale copy shows. */
static uint64_t body_seed(uint64_t sector, uint32_t gen)
{
	uint64_t z = sector * 0xbf58476d1ce4e5b9ull ^ ((uint64_t)gen << 17);

	return z ^ (z >> 29) ^ MAGIC;
}

static void fill(uint64_t *w, uint64_t sector, uint32_t gen)
{
	uint64_t n = req_bytes / 8, v = body_seed(sector, gen), sum = 0;

	for (uint64_t i = 4; i < n; i++) {
		w[i] = v + i * BODY_MUL;
		sum += w[i];
	}
	w[0] = MAGIC ^ sector;
	w[1] = sector;
	w[2] = gen;
	w[3] = sum;
}

/* 0 if w holds (sector, gen), or zeros for gen 0. */
static int check(const uint64_t *w, uint64_t sector, uint32_t gen)
{
	uint64_t n = req_bytes / 8, v, sum = 0, bad = 0;

	if (gen == 0) {
		for (uint64_t i = 0; i < n; i++)
			bad |= w[i];
		return bad != 0;
	}
	v = body_seed(sector, gen);
	for (uint64_t i = 4; i < n; i++) {
		bad |= w[i] ^ (v + i * BODY_MUL);
		sum += w[i];
	}
	bad |= w[0] ^ (MAGIC ^ sector);
	bad |= w[1] ^ sector;
	bad |= w[2] ^ gen;
	bad |= w[3] ^ sum;
	return bad != 0;
}

/* First and last word of every sector: a transfer that did not happen (or
 * stopped short) leaves a non-pattern, non-zero word behind. */
static void poison(uint64_t *w)
{
	for (uint64_t s = 0; s < req_sectors; s++) {
		w[s * 64] = 0xdeadbeefdeadbeefull;
		w[s * 64 + 63] = 0xdeadbeefdeadbeefull;
	}
}

static uint32_t take_gen(void)
{
	uint32_t g = gen_next++;

	if (gen_next == GEN_UNKNOWN)
		gen_next = 1;
	return g;
}

/* Submits one request for block in a free slot. Precondition: n_free > 0
 * and the ring has space (qd <= FS_BLK_RING_SIZE guarantees it). */
static void submit_one(uint64_t block, uint8_t op)
{
	uint32_t id = free_ids[--n_free];
	struct slot *s = &slots[id];
	uint64_t sector = block * req_sectors;
	int err;

	s->block = block;
	s->op = op;
	s->busy = 1;
	s->readback = readback_pass;
	if (op == FS_BLK_OP_WRITE) {
		uint32_t g = take_gen();

		gen_of[block] = g;
		s->expect = g;
		if (verify)
			fill(s->buf, sector, g);
	} else {
		s->expect = gen_of[block];
		if (verify)
			poison(s->buf);
	}
	err = blk_submit(&disk, id, op, sector, (uint32_t)req_bytes,
	                 FS_PTR(s->buf));
	if (err < 0)
		fs_shutdown(FS_SHUTDOWN_ERROR, "iohog: ring full below qd");
}

/* A random block and operation, reads with probability mix %. */
static void submit_random(uint32_t mix)
{
	uint64_t block = rng() % n_blocks;

	submit_one(block, rng() % 100 < mix ? FS_BLK_OP_READ : FS_BLK_OP_WRITE);
}

static void complete(const struct fs_blk_rsp *r, ns_t now)
{
	struct slot *s;

	if (r->id >= FS_BLK_RING_SIZE || !slots[r->id].busy)
		fs_shutdown(FS_SHUTDOWN_ERROR, "iohog: response with an id "
		                               "never submitted");
	s = &slots[r->id];
	s->busy = 0;
	free_ids[n_free++] = (uint32_t)r->id;
	if (r->status != 0) {
		errors++;
		if (s->op == FS_BLK_OP_WRITE && gen_of[s->block] == s->expect)
			gen_of[s->block] = GEN_UNKNOWN;
		return;
	}
	if (s->op == FS_BLK_OP_WRITE) {
		write_ops++;
		write_bytes += req_bytes;
	} else {
		read_ops++;
		read_bytes += req_bytes;
		checked_blocks += s->readback;
		/* a failed write in between makes the expectation moot */
		if (verify && gen_of[s->block] != GEN_UNKNOWN &&
		    !(s->expect == 0 && fresh_any) &&
		    check(s->buf, s->block * req_sectors, s->expect)) {
			if (mismatches++ < MISMATCH_PRINT)
				fs_printf("iohog: mismatch: block %llu "
				          "expected gen %u, header %llx %llx "
				          "%llx\n",
				          (unsigned long long)s->block,
				          s->expect,
				          (unsigned long long)s->buf[0],
				          (unsigned long long)s->buf[1],
				          (unsigned long long)s->buf[2]);
		}
	}
	ops++;
	bytes += req_bytes;
	if (now - start_ns <= NS_PER_S) {
		first_s_ops++;
		first_s_bytes += req_bytes;
	}
}

/* Reaps every posted response; the clock is read after the batch, so a
 * completion is never attributed to a time before it was observed. */
static uint32_t reap_all(void)
{
	struct fs_blk_rsp batch[FS_BLK_RING_SIZE];
	uint32_t n = 0;
	ns_t now;

	while (n < FS_BLK_RING_SIZE && blk_reap(&disk, &batch[n]))
		n++;
	if (n == 0)
		return 0;
	now = fs_time_ns();
	for (uint32_t i = 0; i < n; i++)
		complete(&batch[i], now);
	last_ns = now;
	return n;
}

static int parse_word(const struct fs_domain_info *info, const char *key,
                      const char *dflt, const char *a, const char *b)
{
	char buf[16];
	const char *s = fs_arg_str(info, key, dflt, buf, sizeof(buf));

	if (strcmp(s, a) == 0)
		return 0;
	if (strcmp(s, b) == 0)
		return 1;
	fs_printf("iohog: %s='%s': want %s or %s\n", key, s, a, b);
	return -1;
}

int main(const struct fs_domain_info *info)
{
	uint64_t req_kb, qd, region, heap, top;
	uint32_t mix;
	ns_t duration_ns, stop = FS_TIME_NEVER;
	enum { PH_RUN, PH_READBACK, PH_DRAIN } phase = PH_RUN;
	uint64_t cursor = 0;
	int end_idle, readback;
	int64_t err;

	fs_banner(info, "iohog");
	req_kb = fs_arg_u64(info, "req_kb", 4);
	mix = (uint32_t)fs_arg_u64(info, "mix", 50);
	qd = fs_arg_u64(info, "qd", 8);
	duration_ns = fs_arg_ns(info, "duration_ms", 0, NS_PER_MS);
	region = fs_arg_u64(info, "region_mb", 0);
	rng_state = fs_arg_u64(info, "seed", 1);
	verify = fs_arg_u64(info, "verify", 1) != 0;
	readback = fs_arg_u64(info, "readback", 0) != 0;
	fresh_any = parse_word(info, "fresh", "zero", "zero", "any");
	end_idle = parse_word(info, "end", "exit", "exit", "idle");
	if (fresh_any < 0 || end_idle < 0)
		return 1;
	if (req_kb < 1 || req_kb > FS_BLK_MAX_LEN / 1024 || mix > 100 ||
	    qd < 1 || qd > FS_BLK_RING_SIZE || region > (1ull << 40) / 1024) {
		fs_printf("iohog: want req_kb 1..%u, mix 0..100, qd 1..%u\n",
		          FS_BLK_MAX_LEN / 1024, FS_BLK_RING_SIZE);
		return 1;
	}
	req_bytes = req_kb * 1024;
	req_sectors = req_bytes / FS_BLK_SECTOR;

	err = blk_init(&disk);
	if (err < 0) {
		fs_printf("iohog: block setup refused (%lld)%s\n",
		          (long long)err,
		          err == FS_ENOENT ? ": the domain has no disk" : "");
		return 1;
	}
	if (req_bytes > disk.max_len) {
		fs_printf("iohog: req_kb %llu > the back end's max %u bytes\n",
		          (unsigned long long)req_kb, disk.max_len);
		return 1;
	}
	n_blocks = disk.sectors / req_sectors;
	if (region != 0 && region * 1024 * 1024 / req_bytes < n_blocks)
		n_blocks = region * 1024 * 1024 / req_bytes;
	if (n_blocks > IOHOG_MAX_BLOCKS)
		n_blocks = IOHOG_MAX_BLOCKS;
	if (n_blocks == 0) {
		fs_printf("iohog: disk of %llu sectors holds no %llu KiB "
		          "block\n",
		          (unsigned long long)disk.sectors,
		          (unsigned long long)req_kb);
		return 1;
	}

	heap = (FS_PTR(_end) + 4095u) & ~4095ull;
	top = info->mem_base + info->mem_bytes;
	if (top < STACK_RESERVE ||
	    heap + qd * req_bytes > top - STACK_RESERVE) {
		fs_printf("iohog: %llu buffers of %llu KiB do not fit in %llu "
		          "KiB of memory\n",
		          (unsigned long long)qd, (unsigned long long)req_kb,
		          (unsigned long long)(info->mem_bytes / 1024));
		return 1;
	}
	for (uint32_t i = 0; i < qd; i++) {
		slots[i].buf = (uint64_t *)(heap + i * req_bytes);
		free_ids[n_free++] = (uint32_t)(qd - 1 - i);
	}
	fs_printf("iohog: %llu blocks of %llu KiB (%llu MiB of a %llu MiB "
	          "disk), qd %llu, %u%% reads\n",
	          (unsigned long long)n_blocks, (unsigned long long)req_kb,
	          (unsigned long long)(n_blocks * req_bytes >> 20),
	          (unsigned long long)(disk.sectors * FS_BLK_SECTOR >> 20),
	          (unsigned long long)qd, mix);

	fs_report_live("ops", &ops);
	fs_report_live("bytes", &bytes);
	fs_report_live("read_ops", &read_ops);
	fs_report_live("write_ops", &write_ops);
	fs_report_live("read_bytes", &read_bytes);
	fs_report_live("write_bytes", &write_bytes);
	fs_report_live("errors", &errors);
	fs_report_live("mismatches", &mismatches);
	fs_report_live("first_s_ops", &first_s_ops);
	fs_report_live("first_s_bytes", &first_s_bytes);
	fs_report_live("start_ns", &start_ns);
	fs_report_live("last_ns", &last_ns);
	fs_report_live("checked_blocks", &checked_blocks);
	fs_report_live("notifies", &notifies);
	fs_report_live("notify_cycles", &notify_cycles);

	start_ns = fs_time_ns();
	if (duration_ns != 0)
		stop = duration_ns > FS_TIME_NEVER - 1 - start_ns
		           ? FS_TIME_NEVER - 1
		           : start_ns + duration_ns;
	for (;;) {
		uint32_t reaped = reap_all(), sent = 0;

		if (phase == PH_RUN && stop != FS_TIME_NEVER &&
		    (last_ns >= stop || (reaped == 0 && fs_time_ns() >= stop)))
			phase = readback ? PH_READBACK : PH_DRAIN;
		for (; n_free > 0 && phase != PH_DRAIN; sent++) {
			if (phase == PH_RUN) {
				submit_random(mix);
				continue;
			}
			readback_pass = 1;
			submit_one(cursor++, FS_BLK_OP_READ);
			if (cursor == n_blocks)
				phase = PH_DRAIN;
		}
		if (phase == PH_DRAIN && blk_outstanding(&disk) == 0)
			break;
		if (sent != 0) {
			uint64_t t0 = fs_rdtsc();

			err = blk_notify();
			notify_cycles += fs_rdtsc() - t0;
			notifies++;
			if (err < 0) {
				fs_printf("iohog: notify refused (%lld)\n",
				          (long long)err);
				return 1;
			}
			continue; /* it may have completed some already */
		}
		if (reaped == 0) {
			err = blk_wait(&disk,
			               phase == PH_RUN ? stop : FS_TIME_NEVER);
			if (err < 0) {
				fs_printf("iohog: block refused (%lld)\n",
				          (long long)err);
				return 1;
			}
		}
	}
	fs_printf("iohog: dom %u: %llu ops, %llu bytes, %llu errors, %llu "
	          "mismatches\n",
	          info->domid, (unsigned long long)ops,
	          (unsigned long long)bytes, (unsigned long long)errors,
	          (unsigned long long)mismatches);
	if (!end_idle)
		return 0;
	for (;;)
		fs_block_until(
		    FS_TIME_NEVER); /* an idle disk raises no event */
}
