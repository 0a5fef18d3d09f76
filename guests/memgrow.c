/*
 * memgrow: grows the domain's memory reservation to a target in steps,
 * touches every page it is given, holds, gives the growth back, and keeps
 * an exact timeline of what it held.
 *
 * Growth is contiguous from the top of the initial memory (the stack lives
 * just below it), step_pages per FS_HC_MEM_INCREASE. Refusals by limit:
 *   FS_EAGAIN (growth bucket): block until st.retry_ns, retry the same
 *     request; the hypervisor promised it is granted then, so a second
 *     EAGAIN for the same request counts in retry_again;
 *   FS_ERANGE (ceiling): growth stops there;
 *   FS_ENOMEM (host): halve the step and retry; a one-page refusal stops
 *     growth (so with target_mb=0 the domain takes exactly what the host
 *     has free);
 *   FS_EINVAL: counted in refused_args, growth stops (never expected).
 * Every granted page is checked to read zero, word by word (nonzero_pages
 * counts pages that did not), then filled with a non-zero pattern, so the
 * pages it gives back are dirty: a domain that later gets them must still
 * see zeros.
 *
 * The timeline: starting at info->boot_ns with mem_bytes / 4096 pages,
 * each successful call adds pages * (t - t_prev) with t = fs_time_ns()
 * taken right after the call, and the last term runs to a final
 * fs_time_ns() just before the domain shuts down: page_ns_guest, the
 * integral the hypervisor's mem_page_ns must match (it lags the guest's
 * clock reads by only the hypercall's own latency). Grants are logged
 * (time, pages) to compute max_1s_pages, the most pages granted within any
 * 1 s window of grant times, which the growth bucket bounds by
 * rate + burst (only the first GRANT_LOG grants are logged: ~32 GiB at
 * the default step).
 *
 * Args:
 *   target_mb=N    total memory to grow to (default 0: as far as the
 *                  ceiling or the host allows)
 *   step_pages=N   pages per call, 1..FS_MEM_BATCH_MAX (default 256)
 *   delay_ms=N     wait this long after boot before growing (default 0)
 *   hold_ms=N      hold the grown memory this long (default 0)
 *   over=0|1       at the target, try once to go past the ceiling and
 *                  count the refusal (default 0)
 *   shrink=0|1     then give back every page above the initial memory
 *                  (default 1)
 *   end=exit|run   then shut down DONE, or block forever (default exit)
 * Live reports: pages (held now, by the guest's count), max_pages_seen
 * (largest st.pages), granted_pages, refused_max, refused_growth,
 * refused_host, refused_args, retry_again, nonzero_pages, grow_ns (first
 * increase call to reaching the target or the limit), first_grant_ns,
 * last_grant_ns, max_1s_pages, page_ns_guest (final only at exit), phase
 * (1 delay, 2 grow, 3 hold, 4 shrink, 5 done), grant_cycles (TSC cycles
 * spent in the increase calls that were granted, read around each call:
 * the hypervisor's cost of a grant without the guest's touching, for make
 * bench; that makes 16 reports, the most a domain may register).
 */
#include "args.h"
#include "fs.h"
#include "mem.h"
#include "printf.h"
#include "string.h"

#define GRANT_LOG 8192u            /* grants remembered for max_1s_pages */
#define FILL 0x6d656d67726f7700ull /* "memgrow" */

static _Alignas(8) volatile uint64_t pages, max_pages_seen, granted_pages,
    refused_max, refused_growth, refused_host, refused_args, retry_again,
    nonzero_pages, grow_ns, first_grant_ns, last_grant_ns, max_1s_pages,
    page_ns_guest, phase, grant_cycles;

enum { PH_DELAY = 1, PH_GROW, PH_HOLD, PH_SHRINK, PH_DONE };

static struct {
	ns_t t;
	uint64_t n;
} grants[GRANT_LOG];
static uint32_t n_grants;

static ns_t t_prev;          /* time of the last change in the timeline */
static uint64_t page_ns_acc; /* the integral up to t_prev */
static int count_warned;

/* The timeline: pages held from t_prev to now, then the new count. */
static void timeline(ns_t now, uint64_t new_pages)
{
	page_ns_acc += pages * (now - t_prev);
	t_prev = now;
	pages = new_pages;
	page_ns_guest = page_ns_acc;
}

static void saw(const struct fs_mem_status *st)
{
	if (st->pages > max_pages_seen)
		max_pages_seen = st->pages;
	if (st->pages != pages && !count_warned) {
		count_warned = 1;
		fs_printf("memgrow: hypervisor says %llu pages, guest counts "
		          "%llu\n",
		          (unsigned long long)st->pages,
		          (unsigned long long)pages);
	}
}

/* Logs a grant and keeps max_1s_pages, the most pages granted in any
 * window [t_i, t_i + 1 s) of grant times (a sliding window over the log). */
static void log_grant(ns_t t, uint64_t n)
{
	static uint32_t lo;
	static uint64_t sum;

	if (n_grants == GRANT_LOG)
		return; /* max_1s_pages stops growing: say so in the header */
	grants[n_grants].t = t;
	grants[n_grants++].n = n;
	sum += n;
	while (t - grants[lo].t >= NS_PER_S)
		sum -= grants[lo++].n;
	if (sum > max_1s_pages)
		max_1s_pages = sum;
}

/* Checks n fresh pages at gva read zero, then dirties them. */
static void touch(uint64_t gva, uint64_t n, uint64_t tag)
{
	for (uint64_t p = 0; p < n; p++) {
		volatile uint64_t *w =
		    (volatile uint64_t *)(gva + p * FS_PAGE_SIZE);
		uint64_t bad = 0;

		for (uint32_t i = 0; i < FS_PAGE_SIZE / 8; i++)
			bad |= w[i];
		if (bad)
			nonzero_pages++;
		for (uint32_t i = 0; i < FS_PAGE_SIZE / 8; i++)
			w[i] = tag ^ (p << 12) ^ i;
	}
}

/* One increase with the retry rules above. Returns the pages granted (0 if
 * growth must stop). */
static uint64_t grow_step(uint64_t gva, uint64_t n, uint64_t tag)
{
	struct fs_mem_status st;
	int retried = 0;

	for (;;) {
		uint64_t t0 = fs_rdtsc(), t1;
		int64_t err;
		ns_t now;

		st = (struct fs_mem_status){0};
		err = fs_mem_increase(gva, n, &st);
		t1 = fs_rdtsc();
		now = fs_time_ns();
		if (err == 0) {
			grant_cycles += t1 - t0;
			timeline(now, pages + n);
			saw(&st);
			log_grant(now, n);
			if (first_grant_ns == 0)
				first_grant_ns = now;
			last_grant_ns = now;
			granted_pages += n;
			touch(gva, n, tag);
			return n;
		}
		switch (err) {
		case FS_EAGAIN:
			refused_growth++;
			retry_again += retried;
			retried = 1;
			fs_block_until(st.retry_ns > now ? st.retry_ns : now);
			break;
		case FS_ERANGE:
			refused_max++;
			return 0;
		case FS_ENOMEM:
			refused_host++;
			if (n == 1)
				return 0;
			n /= 2;
			retried = 0;
			break;
		default:
			refused_args++;
			fs_printf("memgrow: increase of %llu pages at %llx "
			          "refused (%lld, limit %u)\n",
			          (unsigned long long)n,
			          (unsigned long long)gva, (long long)err,
			          st.limit);
			return 0;
		}
	}
}

/* Tries once to go past the ceiling: must be refused with FS_ERANGE. */
static void try_over(uint64_t gva, uint64_t tag)
{
	struct fs_mem_status st;
	uint64_t n;
	int64_t err;

	/* An empty increase fills st even when the growth bucket refuses it
	 * (FS_EAGAIN): the limits are checked in order, the bucket last. */
	st = (struct fs_mem_status){0};
	err = fs_mem_status(&st);
	if ((err < 0 && err != FS_EAGAIN) || st.max_pages == 0) {
		fs_printf("memgrow: over=1 but no ceiling to try\n");
		return;
	}
	if (st.pages > st.max_pages ||
	    st.max_pages - st.pages >= FS_MEM_BATCH_MAX) {
		fs_printf("memgrow: over=1 but %llu pages held, ceiling %llu: "
		          "not within one call of it\n",
		          (unsigned long long)st.pages,
		          (unsigned long long)st.max_pages);
		return;
	}
	n = st.max_pages - st.pages + 1;
	if (grow_step(gva, n, tag) != 0)
		fs_printf("memgrow: grew past the ceiling of %llu pages\n",
		          (unsigned long long)st.max_pages);
}

static int parse_end(const struct fs_domain_info *info, int *run)
{
	char buf[8];
	const char *s = fs_arg_str(info, "end", "exit", buf, sizeof(buf));

	*run = strcmp(s, "run") == 0;
	if (*run || strcmp(s, "exit") == 0)
		return 0;
	fs_printf("memgrow: end='%s': want exit or run\n", s);
	return -1;
}

int main(const struct fs_domain_info *info)
{
	uint64_t target_mb, step, initial, target, base, top, tag;
	ns_t delay_ns, hold_ns, t0;
	int over, shrink, end_run;

	fs_banner(info, "memgrow");
	target_mb = fs_arg_u64(info, "target_mb", 0);
	step = fs_arg_u64(info, "step_pages", 256);
	delay_ns = fs_arg_ns(info, "delay_ms", 0, NS_PER_MS);
	hold_ns = fs_arg_ns(info, "hold_ms", 0, NS_PER_MS);
	over = fs_arg_u64(info, "over", 0) != 0;
	shrink = fs_arg_u64(info, "shrink", 1) != 0;
	if (parse_end(info, &end_run) < 0)
		return 1;
	if (step < 1 || step > FS_MEM_BATCH_MAX || target_mb > (1ull << 36)) {
		fs_printf("memgrow: want step_pages 1..%u\n", FS_MEM_BATCH_MAX);
		return 1;
	}
	initial = info->mem_bytes / FS_PAGE_SIZE;
	target = target_mb ? target_mb * (1024 * 1024 / FS_PAGE_SIZE)
	                   : FS_GUEST_WINDOW / FS_PAGE_SIZE;
	base = info->mem_base + info->mem_bytes;
	top = base;
	tag = FILL ^ ((uint64_t)info->domid << 48);

	fs_report_live("pages", &pages);
	fs_report_live("max_pages_seen", &max_pages_seen);
	fs_report_live("granted_pages", &granted_pages);
	fs_report_live("refused_max", &refused_max);
	fs_report_live("refused_growth", &refused_growth);
	fs_report_live("refused_host", &refused_host);
	fs_report_live("refused_args", &refused_args);
	fs_report_live("retry_again", &retry_again);
	fs_report_live("nonzero_pages", &nonzero_pages);
	fs_report_live("grow_ns", &grow_ns);
	fs_report_live("first_grant_ns", &first_grant_ns);
	fs_report_live("last_grant_ns", &last_grant_ns);
	fs_report_live("max_1s_pages", &max_1s_pages);
	fs_report_live("page_ns_guest", &page_ns_guest);
	fs_report_live("phase", &phase);
	fs_report_live("grant_cycles", &grant_cycles);

	pages = initial;
	t_prev = info->boot_ns;
	phase = PH_DELAY;
	if (delay_ns)
		fs_block_until(info->boot_ns + delay_ns);

	phase = PH_GROW;
	t0 = fs_time_ns();
	while (pages < target) {
		uint64_t n = target - pages < step ? target - pages : step;
		uint64_t got = grow_step(top, n, tag);

		if (got == 0)
			break;
		top += got * FS_PAGE_SIZE;
	}
	grow_ns = (last_grant_ns > t0 ? last_grant_ns : fs_time_ns()) - t0;
	fs_printf("memgrow: dom %u: %llu pages held (%llu granted) after "
	          "%llu us; refused max %llu growth %llu host %llu\n",
	          info->domid, (unsigned long long)pages,
	          (unsigned long long)granted_pages,
	          (unsigned long long)(grow_ns / NS_PER_US),
	          (unsigned long long)refused_max,
	          (unsigned long long)refused_growth,
	          (unsigned long long)refused_host);
	if (over)
		try_over(top, tag);

	phase = PH_HOLD;
	if (hold_ns)
		fs_block_until(fs_time_ns() + hold_ns);

	phase = PH_SHRINK;
	while (shrink && top > base) {
		struct fs_mem_status st;
		uint64_t n = (top - base) / FS_PAGE_SIZE;
		int64_t err;

		if (n > step)
			n = step;
		st = (struct fs_mem_status){0};
		err = fs_mem_decrease(top - n * FS_PAGE_SIZE, n, &st);
		if (err < 0) {
			fs_printf("memgrow: decrease of %llu pages refused "
			          "(%lld)\n",
			          (unsigned long long)n, (long long)err);
			return 1;
		}
		timeline(fs_time_ns(), pages - n);
		saw(&st);
		top -= n * FS_PAGE_SIZE;
	}
	phase = PH_DONE;
	if (end_run) {
		for (;;)
			fs_block_until(FS_TIME_NEVER);
	}
	timeline(fs_time_ns(), pages); /* closes the integral: exit now */
	return 0;
}
