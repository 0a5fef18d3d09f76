/*
 * waker: a latency-sensitive periodic domain, the "voip" of the demos. It
 * wakes on a fixed grid of deadlines t0 + k * period, does a short burst of
 * work, and blocks again; how late each wake comes is its scheduling
 * latency, which the live reports summarise.
 *
 * Each wake: block until the deadline, read fs_time_ns(), record lateness =
 * now - deadline (0 if early) in a log-linear histogram with running
 * percentiles (lib/hist.h: within 0.8%, 4 ns near 1 us, O(1) per sample),
 * then burn burst_us of wall time in work units, checking the TSC after
 * every unit.
 * If the next deadline has already passed by more than a whole period (the
 * domain was starved, or burst >= period), skip to the first deadline still
 * in the future and count the skipped ones as missed: a late wake is
 * measured once, not replayed as a backlog.
 *
 * Args:
 *   period_us=N  wake period (default 10000)
 *   burst_us=N   work per wake, wall time (default 800; keep it < period)
 * Live reports: wakes, p50_ns, p99_ns, max_ns (lateness; p50/p99 are upper
 * bounds within 1/128 of the true nearest-rank percentile, exact below
 * 256 ns), missed (deadlines skipped).
 */
#include "args.h"
#include "fs.h"
#include "hist.h"
#include "printf.h"
#include "time.h"
#include "work.h"

static _Alignas(8) volatile uint64_t wakes, p50_ns, p99_ns, max_ns, missed;

static struct hist lateness; /* ~17 KiB: a static, never on the stack */

static const uint32_t pcts[] = {500, 990};

/* Burns ticks TSC ticks of wall time from t0 in whole work units. */
static uint64_t burn(uint64_t t0, uint64_t ticks, uint64_t x)
{
	while (fs_rdtsc() - t0 < ticks)
		x = fs_work_unit(x);
	return x;
}

int main(const struct fs_domain_info *info)
{
	uint64_t burst_tsc, x = info->domid, k;
	ns_t period_ns, t0;

	fs_banner(info, "waker");
	fs_need_tsc(info);
	period_ns = fs_arg_ns(info, "period_us", 10000, NS_PER_US);
	if (period_ns == 0) {
		fs_printf("waker: period_us must be > 0\n");
		return 1;
	}
	burst_tsc =
	    fs_ns_to_tsc(info, fs_arg_ns(info, "burst_us", 800, NS_PER_US));
	hist_init(&lateness, pcts, 2);
	fs_report_live("wakes", &wakes);
	fs_report_live("p50_ns", &p50_ns);
	fs_report_live("p99_ns", &p99_ns);
	fs_report_live("max_ns", &max_ns);
	fs_report_live("missed", &missed);

	t0 = fs_time_ns();
	for (k = 1;; k++) {
		ns_t deadline = t0 + k * period_ns, now;
		int64_t err;

		err = fs_block_until(deadline);
		if (err < 0) {
			fs_printf("waker: block refused (%lld)\n",
			          (long long)err);
			return 1;
		}
		now = fs_time_ns();
		hist_add(&lateness, now > deadline ? now - deadline : 0);
		p50_ns = hist_pct_ns(&lateness, 0);
		p99_ns = hist_pct_ns(&lateness, 1);
		max_ns = lateness.max_ns;
		wakes++;

		x = burn(fs_rdtsc(), burst_tsc, x);

		now = fs_time_ns();
		if (now > t0 + (k + 1) * period_ns + period_ns) {
			uint64_t next = (now - t0) / period_ns + 1;

			missed += next - (k + 1);
			k = next - 1; /* the loop's k++ makes it next */
		}
	}
}
