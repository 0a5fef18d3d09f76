/*
 * hvboot: boot a Fairshare configuration in QEMU, let it run for a fixed
 * stretch of virtual time, and print what the hypervisor reported.
 *
 *   hvboot --config FILE --run-ms N [--json] [--iso] [--memory MB]
 *          [--log FILE] [--show-log] [--timeout SEC] [--kernel PATH]
 *          [--images DIR] [--append EXTRA]
 *   hvboot --parse-log FILE [--json]
 *
 * By default QEMU loads the hypervisor itself (-kernel, one -initrd module
 * per domain); --iso boots the same thing through GRUB from a CD image, as
 * a real host would. Exit status: 0 the run ended normally and its report
 * was read; 2 a bad command line or configuration; 3 the hypervisor
 * panicked; 4 the run did not end within --timeout seconds of wall-clock
 * time; 5 any other failure (QEMU could not start or crashed, the machine
 * reset, a malformed or truncated report); 128+N interrupted by signal N.
 * On failures 3..5 the end of the hypervisor's log goes to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "iso.h"
#include "output.h"
#include "qemu.h"
#include "report.h"
#include "runner.h"
#include "tools/fsconfig/emit.h"
#include "tools/fsconfig/exepath.h"
#include "tools/fsconfig/ini.h"

enum {
	EXIT_USAGE = 2,
	EXIT_PANIC = 3,
	EXIT_TIMEOUT = 4,
	EXIT_OTHER = 5,
};

#define TIMEOUT_S_DEFAULT 600u
#define TAIL_LINES 40u
#define PATH_LEN 4096
/* Linux's limit on one argv string (MAX_ARG_STRLEN): -initrd must fit. */
#define ARG_STRLEN_MAX ((size_t)32 * 4096)

struct opts {
	const char *config, *run_ms, *log, *kernel, *images, *extra;
	const char *parse_log, *link;
	bool json, iso, show_log, realtime;
	unsigned memory_mb, timeout_s;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: hvboot --config FILE --run-ms N [options]\n"
	        "       hvboot --parse-log FILE [--json]\n"
	        "  --run-ms N       virtual ms to run (run_ms=N; may be left "
	        "out if FILE sets run_ms)\n"
	        "  --json           print one JSON object instead of a table\n"
	        "  --iso            boot through GRUB from an ISO image\n"
	        "  --memory MB      guest RAM of the machine (default %u)\n"
	        "  --log FILE       keep the hypervisor's COM1 log in FILE\n"
	        "  --show-log       copy the hypervisor's log to stderr\n"
	        "  --timeout SEC    wall-clock limit (default %u)\n"
	        "  --kernel PATH    hypervisor (default: "
	        "build/hypervisor/fairshare.bin)\n"
	        "  --images DIR     guest images (default: build/guests)\n"
	        "  --append EXTRA   more key=value for the hypervisor\n"
	        "  --link PATH      COM2, the management link, as a UNIX "
	        "socket QEMU listens on\n"
	        "  --realtime       virtual time follows the wall clock (no "
	        "-icount)\n"
	        "  --parse-log FILE only read an existing COM1 log\n",
	        QEMU_MEMORY_MB_DEFAULT, TIMEOUT_S_DEFAULT);
}

static int parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi,
                      unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < lo || v > hi) {
		fprintf(stderr, "hvboot: %s %s: want an integer %u..%u\n", opt,
		        s, lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* Options that take a value: where each one is stored. */
static const char **str_opt(struct opts *o, const char *a)
{
	static const char *const names[] = {
	    "--config", "--run-ms", "--log",       "--kernel",
	    "--images", "--append", "--parse-log", "--link",
	};
	const char **slots[] = {
	    &o->config, &o->run_ms, &o->log,       &o->kernel,
	    &o->images, &o->extra,  &o->parse_log, &o->link,
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(a, names[i]))
			return slots[i];
	return NULL;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = str_opt(o, a);
		bool has_val = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--iso")) {
			o->iso = true;
		} else if (!strcmp(a, "--show-log")) {
			o->show_log = true;
		} else if (!strcmp(a, "--realtime")) {
			o->realtime = true;
		} else if (slot && has_val) {
			*slot = argv[++i];
		} else if (!strcmp(a, "--memory") && has_val) {
			if (parse_uint(a, argv[++i], 16, 1048576,
			               &o->memory_mb))
				return -1;
		} else if (!strcmp(a, "--timeout") && has_val) {
			if (parse_uint(a, argv[++i], 1, 7 * 24 * 3600,
			               &o->timeout_s))
				return -1;
		} else {
			fprintf(stderr,
			        "hvboot: unknown option or missing "
			        "value: %s\n",
			        a);
			return -1;
		}
	}
	if (!o->config == !o->parse_log) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int parse_only(const struct opts *o)
{
	FILE *f = fopen(o->parse_log, "r");
	if (!f) {
		fprintf(stderr, "hvboot: %s: %s\n", o->parse_log,
		        strerror(errno));
		return EXIT_USAGE;
	}
	struct hv_report r;
	char err[1024];
	int rc = report_parse(f, o->parse_log, &r, err, sizeof(err));
	fclose(f);
	if (rc) {
		fprintf(stderr, "hvboot: %s\n", err);
		return EXIT_OTHER;
	}
	if (o->json)
		output_json(stdout, &r, NULL);
	else
		output_table(stdout, &r, NULL);
	report_free(&r);
	return 0;
}

/* Everything a boot needs, resolved and validated before QEMU starts. */
struct boot {
	struct fs_config cfg;
	char kernel[PATH_LEN];
	char images[PATH_LEN];
	char tmp[PATH_LEN]; /* our temporary directory, "" if none */
	char log[PATH_LEN];
	char qemu_out[PATH_LEN];
	char append[FS_HV_CMDLINE_MAX];
	char *initrd;
	char iso[PATH_LEN];
};

static int resolve(char *out, const char *given, const char *rel,
                   const char *opt)
{
	if (given) {
		if (snprintf(out, PATH_LEN, "%s", given) < PATH_LEN)
			return 0;
	} else if (!exepath_sibling(rel, out, PATH_LEN)) {
		return 0;
	}
	fprintf(stderr, "hvboot: cannot locate build/%s; give %s\n", rel, opt);
	return -1;
}

/* --append: only hypervisor keys, in characters GRUB and QEMU pass on
 * unchanged. Checked on a copy; the words are then appended verbatim. */
static int check_extra(const struct boot *b, const char *extra)
{
	for (const char *p = extra; *p; p++)
		if (!domcfg_value_char(*p) && *p != '=' && *p != ' ') {
			fprintf(stderr,
			        "hvboot: --append: '%c' is not allowed "
			        "(values are A-Z a-z 0-9 _ . : / + -)\n",
			        *p);
			return -1;
		}
	struct hv_settings h = b->cfg.hv;
	const char *why;
	size_t off;
	if (hvcfg_parse_cmdline(&h, extra, &why, &off)) {
		fprintf(stderr, "hvboot: --append: at '%s': %s\n", extra + off,
		        why);
		return -1;
	}
	return 0;
}

/* Load and check everything; 0 or an exit status. */
static int prepare(const struct opts *o, struct boot *b)
{
	char err[1024];
	struct stat st;
	if (resolve(b->kernel, o->kernel, "hypervisor/fairshare.bin",
	            "--kernel") ||
	    resolve(b->images, o->images, "guests", "--images"))
		return EXIT_USAGE;
	if (stat(b->kernel, &st) || !S_ISREG(st.st_mode)) {
		fprintf(stderr,
		        "hvboot: no hypervisor at %s (build it with "
		        "make, or give --kernel)\n",
		        b->kernel);
		return EXIT_USAGE;
	}
	if (fs_config_load(&b->cfg, o->config, b->images, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	const char *why;
	if (o->run_ms && hvcfg_set(&b->cfg.hv, "run_ms", 6, o->run_ms,
	                           strlen(o->run_ms), &why)) {
		fprintf(stderr, "hvboot: --run-ms %s: %s\n", o->run_ms, why);
		return EXIT_USAGE;
	}
	if (!b->cfg.hv.run_ms) {
		fprintf(stderr, "hvboot: give --run-ms N (or run_ms in "
		                "[hypervisor]): the run must end by itself\n");
		return EXIT_USAGE;
	}
	if (o->extra && check_extra(b, o->extra))
		return EXIT_USAGE;
	if (fs_emit_hv_cmdline(&b->cfg, o->extra, b->append,
	                       sizeof(b->append)) < 0) {
		fprintf(stderr, "hvboot: hypervisor command line too long\n");
		return EXIT_USAGE;
	}
	if (o->iso)
		return 0;
	b->initrd = fs_emit_initrd(&b->cfg, b->images, err, sizeof(err));
	if (!b->initrd) {
		fprintf(stderr, "hvboot: %s\n", err);
		return EXIT_USAGE;
	}
	if (strlen(b->initrd) >= ARG_STRLEN_MAX) {
		fprintf(stderr,
		        "hvboot: %zu [domain] sections make a -initrd "
		        "argument of %zu bytes, more than one argument "
		        "may hold; use --iso or count = N\n",
		        b->cfg.n, strlen(b->initrd));
		return EXIT_USAGE;
	}
	return 0;
}

/* Temporary directory and the COM1 log (emptied, so a QEMU that never
 * starts leaves no stale log to misread). */
static int make_files(const struct opts *o, struct boot *b)
{
	const char *t = getenv("TMPDIR");
	snprintf(b->tmp, sizeof(b->tmp), "%s/hvboot.XXXXXX",
	         t && *t ? t : "/tmp");
	if (!mkdtemp(b->tmp)) {
		fprintf(stderr, "hvboot: mkdtemp %s: %s\n", b->tmp,
		        strerror(errno));
		b->tmp[0] = 0;
		return EXIT_OTHER;
	}
	if (files_join(b->qemu_out, PATH_LEN, b->tmp, "/qemu.out") ||
	    files_join(b->log, PATH_LEN, o->log ? o->log : b->tmp,
	               o->log ? "" : "/com1.log")) {
		fprintf(stderr, "hvboot: path too long\n");
		return EXIT_USAGE;
	}
	int fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "hvboot: %s: %s\n", b->log, strerror(errno));
		return o->log ? EXIT_USAGE : EXIT_OTHER;
	}
	close(fd);
	return 0;
}

static void show_failure(const struct opts *o, const struct boot *b,
                         const char *what)
{
	fprintf(stderr, "hvboot: %s\n", what);
	struct stat st;
	if (!stat(b->qemu_out, &st) && st.st_size > 0) {
		fprintf(stderr, "hvboot: QEMU's output:\n");
		files_tail(b->qemu_out, TAIL_LINES, "  ", stderr);
	}
	if (o->show_log) {
		files_cat(b->log, stderr);
		return;
	}
	fprintf(stderr, "hvboot: last %u lines of the hypervisor log%s%s:\n",
	        TAIL_LINES, o->log ? " " : "", o->log ? o->log : "");
	files_tail(b->log, TAIL_LINES, "  ", stderr);
}

/* QEMU ended the run normally: read and print the report. */
static int finish(const struct opts *o, struct boot *b)
{
	char err[1024];
	FILE *f = fopen(b->log, "r");
	if (!f) {
		fprintf(stderr, "hvboot: %s: %s\n", b->log, strerror(errno));
		return EXIT_OTHER;
	}
	struct hv_report r;
	int rc =
	    report_parse(f, o->log ? o->log : "COM1 log", &r, err, sizeof(err));
	fclose(f);
	if (rc) {
		show_failure(o, b, err);
		return EXIT_OTHER;
	}
	if (o->show_log)
		files_cat(b->log, stderr);
	const char *how = o->iso ? "iso" : "kernel";
	if (o->json)
		output_json(stdout, &r, how);
	else
		output_table(stdout, &r, how);
	report_free(&r);
	return fflush(stdout) ? EXIT_OTHER : 0;
}

static int run(const struct opts *o, struct boot *b)
{
	struct qemu_boot qb = {
	    .kernel = b->kernel,
	    .append = b->append,
	    .initrd = b->initrd,
	    .log = b->log,
	    .link = o->link,
	    .realtime = o->realtime,
	    .memory_mb = o->memory_mb,
	};
	if (o->iso) {
		struct iso_inputs in = {
		    .cfg = &b->cfg,
		    .extra = o->extra,
		    .kernel = b->kernel,
		    .images = b->images,
		    .timeout_s = o->timeout_s,
		};
		if (iso_build(&in, b->tmp, b->iso, sizeof(b->iso)))
			return EXIT_OTHER;
		qb.iso = b->iso;
	}
	struct qemu_argv qa = {0};
	char err[1024], what[256];
	struct run_result res;
	if (qemu_argv_build(&qb, &qa)) {
		fprintf(stderr, "hvboot: log path too long\n");
		return EXIT_USAGE;
	}
	if (runner_run(qa.argv, b->qemu_out, o->timeout_s, &res, err,
	               sizeof(err))) {
		fprintf(stderr, "hvboot: %s\n", err);
		return EXIT_OTHER;
	}
	if (res.interrupted) {
		fprintf(stderr, "hvboot: interrupted; QEMU stopped\n");
		return 128 + res.interrupted;
	}
	if (res.timed_out) {
		snprintf(
		    what, sizeof(what),
		    "timeout: the run did not end within %u s of wall-clock "
		    "time; QEMU killed",
		    o->timeout_s);
		show_failure(o, b, what);
		return EXIT_TIMEOUT;
	}
	switch (qemu_end_of(res.status, what, sizeof(what))) {
	case QEMU_END_NORMAL:
		return finish(o, b);
	case QEMU_END_PANIC:
		show_failure(o, b, what);
		return EXIT_PANIC;
	case QEMU_END_OTHER:
		break;
	}
	show_failure(o, b, what);
	return EXIT_OTHER;
}

static int boot(const struct opts *o)
{
	struct boot *b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "hvboot: out of memory\n");
		return EXIT_OTHER;
	}
	int rc = prepare(o, b);
	if (!rc)
		rc = make_files(o, b);
	if (!rc)
		rc = run(o, b);
	if (b->tmp[0] && files_rmtree(b->tmp))
		fprintf(stderr, "hvboot: removing %s: %s\n", b->tmp,
		        strerror(errno));
	free(b->initrd);
	fs_config_free(&b->cfg);
	free(b);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .memory_mb = QEMU_MEMORY_MB_DEFAULT,
	    .timeout_s = TIMEOUT_S_DEFAULT,
	};
	if (parse_args(argc, argv, &o))
		return EXIT_USAGE;
	return o.parse_log ? parse_only(&o) : boot(&o);
}
