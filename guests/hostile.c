/*
 * hostile: a domain that attacks the hypercall interface for duration_ms
 * of wall time, as fast as it can, then ends the way `end` says.
 *
 * Every probe is one hypercall built by a generator below. Most are calls
 * the hypervisor must refuse, and the guest knows it: an unknown number,
 * a pointer outside the domain's memory [mem_lo, mem_hi), a range that runs
 * past the end or wraps around 2^64, a malformed report key, unknown report
 * flags, a misaligned or wild live-report pointer. For those, any result
 * >= 0 is counted in bad_ok, which must stay 0 (the system test asserts
 * it); the first few are also printed. The rest are legal calls with junk
 * in the unused registers or deadlines in the past, which must simply
 * return. One probe in 16 also checks that a refused call preserves every
 * register the ABI promises (all but RAX, RCX, R11, plus two XMM
 * registers); a mismatch shuts the domain down with FS_SHUTDOWN_ERROR.
 *
 * Two rules keep the domain alive while it misbehaves: FS_HC_SHUTDOWN only
 * ever gets a message pointer outside its memory (and a non-zero length),
 * and FS_HC_BLOCK never a deadline more than 1 ms ahead. Unknown-number
 * probes carry arguments that are harmless under any reading of the number
 * (first argument below FS_GUEST_BASE: a past deadline or a wild pointer;
 * second a wild pointer), so a hypervisor that decodes the number wrongly
 * shows up in bad_ok instead of hanging the domain. Ranges that cross the
 * end of memory start in the top 64 bytes, which crt0 leaves unused, and
 * are invalid within their first FS_CONSOLE_MAX bytes, so they stay invalid
 * even for a hypervisor that clamps lengths first.
 *
 * mode=blk and mode=mem attack the block ring and the memory reservation
 * calls instead, in rounds of known-bad calls with a few legal ones mixed
 * in (hostile_io.c says which); each round runs in full, and rounds repeat
 * until the duration has passed. Three more ends abuse the ring itself and
 * must get the domain killed: ring (req_prod more than FS_BLK_RING_SIZE
 * ahead of rsp_cons), rsp (rsp_cons beyond rsp_prod) and ringfree (a
 * request on the ring, the ring page handed back, then a notify; the
 * hypervisor may instead refuse the decrease, and then the domain exits
 * DONE).
 *
 * Args:
 *   mode=WHAT      calls (the generic attacks above), blk or mem
 *                  (default calls); the ring ends set up the ring whatever
 *                  the mode
 *   duration_ms=N  how long to attack (default 30000), by fs_time_ns();
 *                  blk and mem run at least one round
 *   seed=N         RNG seed (default 1): runs are reproducible
 *   end=WHAT       after the duration: run (keep attacking forever),
 *                  exit (shut down DONE), priv (execute `cli`), fault
 *                  (write to kernel memory at 0xffffffff80100000), ud
 *                  (execute ud2), ring, rsp, ringfree (above); default
 *                  priv. All but run and exit must get the domain killed;
 *                  if not, it shuts down with an error.
 * Live reports: attempts (probes made), refused (probes that returned < 0),
 * bad_ok (known-invalid probes that returned >= 0, or bad requests that
 * got status 0; must be 0), good_err (legal calls or requests that failed;
 * must be 0), no_rsp (requests the back end never answered; must be 0),
 * rounds (blk and mem rounds completed).
 */
#include "args.h"
#include "fs.h"
#include "hostile.h"
#include "printf.h"
#include "string.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SCRATCH_TOP 64u  /* unused top of memory (crt0.S) */
#define BAD_OK_PRINT 8u  /* print this many accepted bad calls */
#define CLOCK_EVERY 256u /* probes between reads of the clock */
#define FUTURE_BLOCK_GAP_NS (20u * NS_PER_MS)

typedef uint64_t v2u64 __attribute__((vector_size(16)));

static _Alignas(8) volatile uint64_t attempts, refused, bad_ok, good_err,
    no_rsp, rounds;

/* Real memory for report probes: aligned, so cells + 1..7 is misaligned
 * but inside the domain. */
static _Alignas(8) uint64_t cells[2];

static uint64_t rng_state;
static uint64_t mem_lo, mem_hi;
static ns_t now_ns; /* refreshed every CLOCK_EVERY probes */

struct probe {
	const char *what;
	uint64_t nr;
	uint64_t a[5];
	int bad; /* known invalid: must be refused */
};

/* splitmix64: tiny, full-period, and good enough to spread the probes. */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rng() % n];
}

/* An address outside [mem_lo, mem_hi): every range that starts
 * there is invalid, whatever its length. */
static uint64_t wild_ptr(void)
{
	static const uint64_t fixed[] = {
	    0,
	    0x1000,
	    FS_GUEST_BASE - 4096,
	    FS_GUEST_BASE - 8,
	    FS_GUEST_BASE - 1,
	    0x00007ffffffff000ull, /* canonical, never mapped for guests */
	    0x0000800000000000ull, /* first non-canonical address */
	    0x8000000000000000ull,
	    0xffff800000000000ull, /* kernel half, direct-map style */
	    0xffffffff80000000ull, /* kernel image, -2 GiB */
	    0xffffffff80100000ull,
	    0xfffffffffffff000ull,
	    UINT64_MAX,
	};
	uint64_t p;

	switch (rng() % 6) {
	case 0:
		return mem_hi + (rng() % 3) * 4096u; /* just past the end */
	case 1:
		return 0xffffffff80000000ull + rng() % (16u << 20);
	case 2:
		return 0xffff800000000000ull + rng() % (4ull << 30);
	case 3:
		p = rng();
		return p >= mem_lo && p < mem_hi ? p ^ (1ull << 63) : p;
	default:
		return pick(fixed, ARRAY_LEN(fixed));
	}
}

/* A length >= 1, small to absurd. */
static uint64_t any_len(void)
{
	static const uint64_t fixed[] = {
	    1,          2,    8,     31,         32,        328,
	    4096,       4097, 65536, 1ull << 32, INT64_MAX, UINT64_MAX - 4095,
	    UINT64_MAX,
	};

	if (rng() % 4 == 0)
		return rng() | 1u;
	return pick(fixed, ARRAY_LEN(fixed));
}

/* A pointer into the unused top of memory (crt0.S). */
static uint64_t end_ptr(void)
{
	return mem_hi - 1u - rng() % SCRATCH_TOP;
}

/* A length that carries [p, p + len) past mem_hi, either plainly or by
 * wrapping around 2^64 to a small end address. p is an end_ptr(). */
static uint64_t cross_len(uint64_t p)
{
	if (rng() % 2 == 0)
		return mem_hi - p + 1u + rng() % 8192u;
	return UINT64_MAX - p + 1u + rng() % 64u;
}

static void gen_unknown_nr(struct probe *pr)
{
	static const uint64_t base[] = {0, 1ull << 8, 1ull << 32, 1ull << 63};

	pr->what = "unknown number";
	switch (rng() % 4) {
	case 0:
		pr->nr = FS_HC_COUNT + rng() % 64u;
		break;
	case 1:
		pr->nr = 0u - (1u + rng() % 64u); /* -1 .. -64 */
		break;
	case 2: /* a valid number plus high bits: catches truncation */
		pr->nr =
		    pick(base + 1, ARRAY_LEN(base) - 1) | (rng() % FS_HC_COUNT);
		break;
	default:
		do
			pr->nr = rng();
		while (pr->nr < FS_HC_COUNT);
		break;
	}
	pr->a[0] = rng() % FS_GUEST_BASE;
	pr->a[1] = wild_ptr();
	pr->a[2] = any_len();
	pr->a[3] = rng();
	pr->a[4] = rng();
	pr->bad = 1;
}

static void gen_console(struct probe *pr)
{
	pr->nr = FS_HC_CONSOLE_WRITE;
	pr->bad = 1;
	switch (rng() % 3) {
	case 0:
		pr->what = "console: wild buffer";
		pr->a[0] = wild_ptr();
		pr->a[1] = any_len();
		break;
	case 1:
		pr->what = "console: wild buffer, len > FS_CONSOLE_MAX";
		pr->a[0] = wild_ptr();
		pr->a[1] = FS_CONSOLE_MAX + 1u + rng() % 100000u;
		break;
	default:
		pr->what = "console: buffer crosses the end";
		pr->a[0] = end_ptr();
		pr->a[1] = cross_len(pr->a[0]);
		break;
	}
}

static void gen_domain_info(struct probe *pr)
{
	pr->what = "domain info: bad pointer";
	pr->nr = FS_HC_DOMAIN_INFO;
	/* sizeof(struct fs_domain_info) > SCRATCH_TOP: end_ptr() crosses */
	pr->a[0] = rng() % 2 ? wild_ptr() : end_ptr();
	pr->bad = 1;
}

static void gen_shutdown(struct probe *pr)
{
	static const uint64_t codes[] = {FS_SHUTDOWN_DONE, FS_SHUTDOWN_ERROR, 2,
	                                 UINT64_MAX};

	pr->what = "shutdown: wild message";
	pr->nr = FS_HC_SHUTDOWN;
	pr->a[0] = rng() % 8 ? pick(codes, ARRAY_LEN(codes)) : rng();
	pr->a[1] = wild_ptr(); /* never a pointer into our memory */
	pr->a[2] = any_len();  /* never 0: no "message-less" shutdown */
	pr->bad = 1;
}

struct key {
	const char *s;
	uint64_t len;
};

static void gen_report_key(struct probe *pr)
{
	static const struct key keys[] = {
	    {"", 0},
	    {"abcdefghijklmnopqrstuvwxyz012345", 32}, /* one too long */
	    {"Units", 5},
	    {"a b", 3},
	    {"a-b", 3},
	    {"x.y", 3},
	    {"ab\0c", 4},
	    {"units\n", 6},
	    {"\xe9t\xe9", 3},
	    {"ok", 1000},
	    {"ok", UINT64_MAX},
	};
	const struct key *k = &keys[rng() % ARRAY_LEN(keys)];
	uint64_t left;

	pr->nr = FS_HC_REPORT;
	pr->a[2] = rng();
	pr->a[3] = 0;
	pr->bad = 1;
	switch (rng() % 4) {
	case 0:
		pr->what = "report: wild key";
		pr->a[0] = wild_ptr();
		pr->a[1] = 1u + rng() % FS_REPORT_KEY_MAX;
		break;
	case 1: /* 1..16 bytes left, 2..31 asked: crosses the end */
		pr->what = "report: key crosses the end";
		pr->a[0] = mem_hi - 1u - rng() % 16u;
		left = mem_hi - pr->a[0];
		pr->a[1] = left + 1u + rng() % (FS_REPORT_KEY_MAX - left);
		break;
	default:
		pr->what = "report: malformed key";
		pr->a[0] = FS_PTR(k->s);
		pr->a[1] = k->len;
		break;
	}
}

static void gen_report_flags(struct probe *pr)
{
	static const uint64_t flags[] = {
	    2, 4, 0x80000000u, 1ull << 63, UINT64_MAX, FS_REPORT_LIVE | 2u,
	};

	pr->what = "report: unknown flags";
	pr->nr = FS_HC_REPORT;
	pr->a[0] = FS_PTR("probe");
	pr->a[1] = 5;
	pr->a[3] = rng() % 4 ? pick(flags, ARRAY_LEN(flags)) : rng() | 2u;
	/* with LIVE set, a good pointer: only the unknown bits are wrong */
	pr->a[2] = pr->a[3] & FS_REPORT_LIVE ? FS_PTR(&cells[0]) : rng();
	pr->bad = 1;
}

static void gen_report_live(struct probe *pr)
{
	pr->nr = FS_HC_REPORT;
	pr->a[0] = FS_PTR("probe");
	pr->a[1] = 5;
	pr->a[3] = FS_REPORT_LIVE;
	pr->bad = 1;
	switch (rng() % 3) {
	case 0:
		pr->what = "report: misaligned live pointer";
		pr->a[2] = FS_PTR(&cells[0]) + 1u + rng() % 7u;
		break;
	case 1:
		pr->what = "report: live pointer crosses the end";
		pr->a[2] = mem_hi - 4u;
		break;
	default:
		pr->what = "report: wild live pointer";
		pr->a[2] = wild_ptr();
		break;
	}
}

/* Legal: a deadline in the past returns at once, one at most 1 ms ahead
 * after that (now_ns is never ahead of the real clock). Future deadlines
 * are rationed to one per FUTURE_BLOCK_GAP_NS so that sleeping stays a
 * small part of the run. */
static void gen_block(struct probe *pr)
{
	static ns_t next_future_ns;

	pr->what = "block: past deadline";
	pr->nr = FS_HC_BLOCK;
	switch (rng() % 16) {
	case 0:
		if (now_ns >= next_future_ns) {
			pr->what = "block: deadline <= 1 ms ahead";
			pr->a[0] = now_ns + rng() % NS_PER_MS;
			next_future_ns = now_ns + FUTURE_BLOCK_GAP_NS;
			break;
		}
		pr->a[0] = now_ns;
		break;
	case 1:
		pr->a[0] = 0;
		break;
	case 2:
		pr->a[0] = 1;
		break;
	case 3:
		pr->a[0] = now_ns;
		break;
	default: {
		uint64_t ago = rng() % (2u * NS_PER_S);

		pr->a[0] = now_ns > ago ? now_ns - ago : 0;
		break;
	}
	}
	pr->a[1] = rng();
	pr->a[2] = rng();
	pr->bad = 0;
}

/* Legal: calls without arguments, junk in the argument registers. */
static void gen_benign(struct probe *pr)
{
	pr->what = "time/yield with junk arguments";
	pr->nr = rng() % 8 ? FS_HC_TIME : FS_HC_YIELD;
	for (int i = 0; i < 5; i++)
		pr->a[i] = rng();
	pr->bad = 0;
}

/* One accepted bad call: counted, and the first few printed. */
static void accepted(const char *what, const char *detail, int64_t ret)
{
	bad_ok++;
	if (bad_ok <= BAD_OK_PRINT)
		fs_printf("hostile: accepted a bad call (%s)%s -> %lld\n", what,
		          detail, (long long)ret);
}

static void count(const struct probe *pr, int64_t ret)
{
	char detail[160];

	attempts++;
	if (ret < 0) {
		refused++;
		return;
	}
	if (!pr->bad)
		return;
	fs_snprintf(detail, sizeof(detail),
	            ": nr=0x%llx args=0x%llx 0x%llx 0x%llx 0x%llx 0x%llx",
	            (unsigned long long)pr->nr, (unsigned long long)pr->a[0],
	            (unsigned long long)pr->a[1], (unsigned long long)pr->a[2],
	            (unsigned long long)pr->a[3], (unsigned long long)pr->a[4]);
	accepted(pr->what, detail, ret);
}

void hostile_bad(const char *what, int64_t ret)
{
	attempts++;
	if (ret < 0)
		refused++;
	else
		accepted(what, "", ret);
}

int hostile_good(const char *what, int64_t ret)
{
	attempts++;
	if (ret >= 0)
		return 1;
	if (good_err++ < BAD_OK_PRINT)
		fs_printf("hostile: a legal call failed (%s) -> %lld\n", what,
		          (long long)ret);
	return 0;
}

void hostile_no_rsp(const char *what)
{
	if (no_rsp++ < BAD_OK_PRINT)
		fs_printf("hostile: no response (%s)\n", what);
}

static _Noreturn void clobbered(const char *reg)
{
	char msg[64];

	fs_snprintf(msg, sizeof(msg), "hostile: hypercall clobbered %s", reg);
	fs_printf("%s\n", msg);
	fs_shutdown(FS_SHUTDOWN_ERROR, msg);
}

/* An unknown-number call with a random value in every register the ABI
 * preserves, checked afterwards. */
static void probe_regs(void)
{
	static const char *const names[] = {"rdi", "rsi", "rdx", "r10",
	                                    "r8",  "r9",  "rbx", "r12",
	                                    "r13", "r14", "r15"};
	struct probe pr = {.what = "unknown number (register check)",
	                   .nr = FS_HC_COUNT + rng() % 64u,
	                   .bad = 1};
	uint64_t want[11], got[11];
	v2u64 xa, xb, want_xa, want_xb;

	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		want[i] = rng();
	xa = want_xa = (v2u64){rng(), rng()};
	xb = want_xb = (v2u64){rng(), rng()};
	{
		uint64_t rax = pr.nr, rdi = want[0], rsi = want[1];
		uint64_t rdx = want[2], rbx = want[6];
		register uint64_t r10 __asm__("r10");
		register uint64_t r8 __asm__("r8");
		register uint64_t r9 __asm__("r9");
		register uint64_t r12 __asm__("r12");
		register uint64_t r13 __asm__("r13");
		register uint64_t r14 __asm__("r14");
		register uint64_t r15 __asm__("r15");

		r10 = want[3];
		r8 = want[4];
		r9 = want[5];
		r12 = want[7];
		r13 = want[8];
		r14 = want[9];
		r15 = want[10];

		__asm__ volatile("syscall"
		                 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx),
		                   "+r"(r10), "+r"(r8), "+r"(r9), "+b"(rbx),
		                   "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15),
		                   "+x"(xa), "+x"(xb)
		                 :
		                 : "rcx", "r11", "memory");
		got[0] = rdi;
		got[1] = rsi;
		got[2] = rdx;
		got[3] = r10;
		got[4] = r8;
		got[5] = r9;
		got[6] = rbx;
		got[7] = r12;
		got[8] = r13;
		got[9] = r14;
		got[10] = r15;
		count(&pr, (int64_t)rax);
	}
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		if (got[i] != want[i])
			clobbered(names[i]);
	}
	if (xa[0] != want_xa[0] || xa[1] != want_xa[1] || xb[0] != want_xb[0] ||
	    xb[1] != want_xb[1])
		clobbered("an xmm register");
}

static void probe_once(void)
{
	static void (*const gens[])(struct probe *) = {
	    gen_unknown_nr,   gen_unknown_nr,  gen_console,     gen_console,
	    gen_domain_info,  gen_shutdown,    gen_report_key,  gen_report_key,
	    gen_report_flags, gen_report_live, gen_report_live, gen_block,
	    gen_block,        gen_benign,      gen_domain_info,
	};
	struct probe pr = {0};
	uint64_t which = rng() % (ARRAY_LEN(gens) + 1u);

	if (which == ARRAY_LEN(gens)) {
		probe_regs();
		return;
	}
	gens[which](&pr);
	count(&pr, fs_hc5(pr.nr, pr.a[0], pr.a[1], pr.a[2], pr.a[3], pr.a[4]));
}

enum end_action {
	END_RUN,
	END_EXIT,
	END_PRIV,
	END_FAULT,
	END_UD,
	END_RING,
	END_RSP,
	END_RINGFREE
};

static const char *const end_names[] = {"run", "exit", "priv", "fault",
                                        "ud",  "ring", "rsp",  "ringfree"};

enum mode { MODE_CALLS, MODE_BLK, MODE_MEM };

static const char *const mode_names[] = {"calls", "blk", "mem"};

/* The index of s in names[0..n), or -1. */
static int word_index(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* Generic probes until stop (forever with end=run). */
static void attack_calls(enum end_action end, ns_t stop)
{
	for (uint64_t i = 1;; i++) {
		if (i % CLOCK_EVERY == 0) {
			now_ns = fs_time_ns();
			if (end != END_RUN && now_ns >= stop)
				return;
		}
		probe_once();
	}
}

/* Rounds of mode's probes: at least one, then until stop (forever with
 * end=run). */
static void attack_rounds(enum mode mode, enum end_action end, ns_t stop)
{
	do {
		if (mode == MODE_BLK)
			hostile_blk_round();
		else
			hostile_mem_round();
		rounds++;
	} while (end == END_RUN || fs_time_ns() < stop);
}

int main(const struct fs_domain_info *info)
{
	char end_buf[16], mode_buf[16];
	const char *end_s, *mode_s;
	int end_i, mode_i, ring_end;
	enum end_action end;
	ns_t duration_ns, stop;

	fs_banner(info, "hostile");
	duration_ns = fs_arg_ns(info, "duration_ms", 30000, NS_PER_MS);
	end_s = fs_arg_str(info, "end", "priv", end_buf, sizeof(end_buf));
	end_i = word_index(end_s, end_names, ARRAY_LEN(end_names));
	if (end_i < 0) {
		fs_printf("hostile: end='%s': want run, exit, priv, fault, ud, "
		          "ring, rsp or ringfree\n",
		          end_s);
		return 1;
	}
	end = (enum end_action)end_i;
	mode_s = fs_arg_str(info, "mode", "calls", mode_buf, sizeof(mode_buf));
	mode_i = word_index(mode_s, mode_names, ARRAY_LEN(mode_names));
	if (mode_i < 0) {
		fs_printf("hostile: mode='%s': want calls, blk or mem\n",
		          mode_s);
		return 1;
	}
	rng_state = fs_arg_u64(info, "seed", 1);
	mem_lo = info->mem_base;
	mem_hi = info->mem_base + info->mem_bytes;
	hostile_io_init(mem_hi);
	fs_report_live("attempts", &attempts);
	fs_report_live("refused", &refused);
	fs_report_live("bad_ok", &bad_ok);
	fs_report_live("good_err", &good_err);
	fs_report_live("no_rsp", &no_rsp);
	fs_report_live("rounds", &rounds);

	ring_end = end == END_RING || end == END_RSP || end == END_RINGFREE;
	if ((mode_i == MODE_BLK || ring_end) && hostile_blk_setup() < 0 &&
	    ring_end) {
		fs_printf("hostile: end=%s needs a disk\n", end_s);
		return 1;
	}
	now_ns = fs_time_ns();
	stop = duration_ns > UINT64_MAX - now_ns ? UINT64_MAX
	                                         : now_ns + duration_ns;
	if (mode_i == MODE_CALLS)
		attack_calls(end, stop);
	else
		attack_rounds((enum mode)mode_i, end, stop);

	fs_printf("hostile: dom %u: %llu attempts, %llu refused, %llu bad_ok, "
	          "%llu good_err, %llu no_rsp; end=%s\n",
	          info->domid, (unsigned long long)attempts,
	          (unsigned long long)refused, (unsigned long long)bad_ok,
	          (unsigned long long)good_err, (unsigned long long)no_rsp,
	          end_s);
	switch (end) {
	case END_RUN:
	case END_EXIT:
		return 0;
	case END_PRIV:
		__asm__ volatile("cli");
		break;
	case END_FAULT:
		__asm__ volatile("movq $0, (%0)"
		                 :
		                 : "r"(0xffffffff80100000ull)
		                 : "memory");
		break;
	case END_UD:
		__asm__ volatile("ud2");
		break;
	case END_RING:
		hostile_end_ring_overflow();
		break;
	case END_RSP:
		hostile_end_rsp_ahead();
		break;
	case END_RINGFREE:
		if (hostile_end_ring_free())
			return 0; /* the decrease was refused: correct */
		break;
	}
	fs_printf("hostile: end=%s did not kill the domain\n", end_s);
	return 1;
}
