/* JSON and table output of a parsed report (see output.h). */
#include "output.h"

#include <inttypes.h>

/* part/whole rounded half up to `scale` (10^k): integer arithmetic with a
 * 128-bit product, so no floating-point rounding and no overflow. */
static uint64_t scaled_share(uint64_t part, uint64_t whole, uint64_t scale)
{
	if (!whole)
		return 0;
	unsigned __int128 q =
	    ((unsigned __int128)part * scale + whole / 2) / whole;
	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p); /* the hv logs ASCII */
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* "running" for a domain that is alive (running or blocked). */
static const char *alive_state(const char *sched_state)
{
	return sched_state[0] == 'b' ? "running" : sched_state;
}

static void json_domain(FILE *f, const struct hv_report *r,
                        const struct report_domain *d)
{
	uint64_t sh = scaled_share(d->cpu_ns, r->elapsed_ns, 1000000);
	fprintf(f, "{\"id\":%" PRIu64 ",\"name\":", d->id);
	json_str(f, d->name);
	fprintf(f, ",\"state\":\"%s\",\"sched_state\":\"%s\",\"exit_reason\":",
	        alive_state(d->sched_state), d->sched_state);
	if (d->exit_reason)
		json_str(f, d->exit_reason);
	else
		fputs("null", f);
	fprintf(f,
	        ",\"cpu_ns\":%" PRIu64 ",\"share\":%" PRIu64 ".%06" PRIu64
	        ",\"ready_ns\":%" PRIu64 ",\"warped_ns\":%" PRIu64
	        ",\"dispatches\":%" PRIu64 ",\"wakeups\":%" PRIu64
	        ",\"hypercalls\":%" PRIu64 ",\"cpu_weight\":%" PRIu64
	        ",\"blk_read_ops\":%" PRIu64 ",\"blk_write_ops\":%" PRIu64
	        ",\"blk_read_bytes\":%" PRIu64 ",\"blk_write_bytes\":%" PRIu64
	        ",\"blk_throttled_ns\":%" PRIu64 ",\"mem_pages\":%" PRIu64
	        ",\"mem_page_ns\":%" PRIu64 ",\"report\":{",
	        d->cpu_ns, sh / 1000000, sh % 1000000, d->ready_ns,
	        d->warped_ns, d->dispatches, d->wakeups, d->hypercalls,
	        d->cpu_weight, d->blk_read_ops, d->blk_write_ops,
	        d->blk_read_bytes, d->blk_write_bytes, d->blk_throttled_ns,
	        d->mem_pages, d->mem_page_ns);
	for (size_t k = 0; k < d->nkv; k++) {
		fputs(k ? "," : "", f);
		json_str(f, d->kv[k].key);
		fprintf(f, ":%" PRIu64, d->kv[k].value);
	}
	fputs("}}", f);
}

void output_json(FILE *f, const struct hv_report *r, const char *boot)
{
	fputs("{\"boot\":", f);
	if (boot)
		json_str(f, boot);
	else
		fputs("null", f);
	fprintf(f,
	        ",\"elapsed_ns\":%" PRIu64 ",\"idle_ns\":%" PRIu64
	        ",\"hv_ns\":%" PRIu64 ",\"tsc_hz\":%" PRIu64 ",\"bench\":{",
	        r->elapsed_ns, r->idle_ns, r->hv_ns, r->tsc_hz);
	for (size_t i = 0; i < r->nbench; i++) {
		fputs(i ? "," : "", f);
		json_str(f, r->bench[i].key);
		fprintf(f, ":%s", r->bench[i].value);
	}
	fputs("},\"refused\":[", f);
	for (size_t i = 0; i < r->nrefused; i++) {
		const struct report_refused *rf = &r->refused[i];
		fprintf(f, "%s{\"module\":%" PRIu64 ",\"name\":", i ? "," : "",
		        rf->module);
		if (rf->name[0])
			json_str(f, rf->name);
		else
			fputs("null", f);
		fputs(",\"reason\":", f);
		json_str(f, rf->reason);
		fputc('}', f);
	}
	fputs("],\"domains\":[", f);
	for (size_t i = 0; i < r->n; i++) {
		fputs(i ? "," : "", f);
		json_domain(f, r, &r->doms[i]);
	}
	fputs("]}\n", f);
}

/* ns as milliseconds with three decimals (microsecond resolution). */
static void ms(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, ns / 1000000,
	         ns / 1000 % 1000);
}

void output_table(FILE *f, const struct hv_report *r, const char *boot)
{
	char a[32], b[32], c[32], d[32];
	ms(a, sizeof(a), r->elapsed_ns);
	fprintf(f,
	        "hvboot: %s, %s ms elapsed, tsc %" PRIu64 " Hz, %zu "
	        "domain%s\n",
	        boot ? (boot[0] == 'i' ? "booted from ISO" : "kernel boot")
	             : "parsed log",
	        a, r->tsc_hz, r->n, r->n == 1 ? "" : "s");
	if (r->nbench) {
		fputs("bench:", f);
		for (size_t i = 0; i < r->nbench; i++)
			fprintf(f, " %s=%s", r->bench[i].key,
			        r->bench[i].value);
		fputc('\n', f);
	}
	for (size_t i = 0; i < r->nrefused; i++)
		fprintf(f, "refused: module %" PRIu64 "%s%s: %s\n",
		        r->refused[i].module, r->refused[i].name[0] ? " " : "",
		        r->refused[i].name, r->refused[i].reason);
	fprintf(f, "\n%-16s %-8s %6s %11s %7s %11s %10s %9s %9s %9s %8s "
	        "%9s  %s\n",
	        "name", "state", "weight", "cpu_ms", "share%", "ready_ms",
	        "dispatches", "wakeups", "rd_KiB/s", "wr_KiB/s", "io_ops/s",
	        "avg_MiB", "report");
	uint64_t cpu = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct report_domain *dm = &r->doms[i];
		uint64_t sh = scaled_share(dm->cpu_ns, r->elapsed_ns, 10000);
		cpu += dm->cpu_ns;
		ms(a, sizeof(a), dm->cpu_ns);
		ms(b, sizeof(b), dm->ready_ns);
		fprintf(f,
		        "%-16s %-8s %6" PRIu64 " %11s %4" PRIu64 ".%02" PRIu64
		        " %11s %10" PRIu64 " %9" PRIu64,
		        dm->name, dm->sched_state, dm->cpu_weight, a, sh / 100,
		        sh % 100, b, dm->dispatches, dm->wakeups);
		/* Rates over the whole run; memory as its time average. */
		uint64_t el = r->elapsed_ns ? r->elapsed_ns : 1;
		uint64_t ops = dm->blk_read_ops + dm->blk_write_ops;
		fprintf(f, " %9" PRIu64 " %9" PRIu64 " %8" PRIu64 " %9" PRIu64,
		        scaled_share(dm->blk_read_bytes, el, 1000000000) / 1024,
		        scaled_share(dm->blk_write_bytes, el, 1000000000) / 1024,
		        scaled_share(ops, el, 1000000000),
		        scaled_share(dm->mem_page_ns, el, 1) / 256);
		for (size_t k = 0; k < dm->nkv; k++)
			fprintf(f, "%s%s=%" PRIu64, k ? " " : "  ",
			        dm->kv[k].key, dm->kv[k].value);
		fputc('\n', f);
		if (dm->exit_reason)
			fprintf(f, "%-16s exit: %s\n", "", dm->exit_reason);
	}
	ms(a, sizeof(a), r->elapsed_ns);
	ms(b, sizeof(b), cpu);
	ms(c, sizeof(c), r->idle_ns);
	ms(d, sizeof(d), r->hv_ns);
	fprintf(f, "\ntotals: elapsed %s ms; cpu %s + idle %s + hv %s ms: %s\n",
	        a, b, c, d,
	        report_time_adds_up(r)
	            ? "every ns accounted exactly"
	            : "MISMATCH, time not accounted exactly");
}
