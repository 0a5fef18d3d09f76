/*
 * fsconfig: check a Fairshare configuration file and turn it into what a
 * boot needs.
 *
 *   fsconfig [--images DIR] [--run-ms N] CONFIG --grub OUT|--append|
 *            --initrd|--check
 *
 *   --grub OUT  write a grub.cfg for the boot ISO (OUT "-": stdout)
 *   --append    print the hypervisor command line
 *   --initrd    print QEMU's -initrd argument (one module per domain)
 *   --check     only validate: "CONFIG: ok, N domains"
 *
 * DIR (default: build/guests beside this program's build/bin) must hold
 * IMAGE.elf for every image the file names. Exit status: 0 done; 2 a bad
 * command line or configuration (the message names FILE:LINE and the
 * reason, and nothing is written); 1 an output file could not be written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"
#include "exepath.h"
#include "ini.h"

enum mode { MODE_NONE, MODE_GRUB, MODE_APPEND, MODE_INITRD, MODE_CHECK };

struct opts {
	const char *images;
	const char *run_ms;
	const char *config;
	const char *out;
	enum mode mode;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: fsconfig [--images DIR] [--run-ms N] CONFIG MODE\n"
	           "MODE is one of:\n"
	           "  --grub OUT  write a grub.cfg for the boot ISO (OUT - for "
	           "stdout)\n"
	           "  --append    print the hypervisor command line\n"
	           "  --initrd    print QEMU's -initrd argument\n"
	           "  --check     only validate the configuration\n"
	           "  --images DIR  where IMAGE.elf files are (default: "
	           "build/guests)\n"
	           "  --run-ms N    set run_ms=N, overriding the file\n");
}

static int set_mode(struct opts *o, enum mode m)
{
	if (o->mode != MODE_NONE) {
		fprintf(stderr, "fsconfig: give exactly one of --grub, "
		                "--append, --initrd, --check\n");
		return -1;
	}
	o->mode = m;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_val = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--images") && has_val) {
			o->images = argv[++i];
		} else if (!strcmp(a, "--run-ms") && has_val) {
			o->run_ms = argv[++i];
		} else if (!strcmp(a, "--grub") && has_val) {
			if (set_mode(o, MODE_GRUB))
				return -1;
			o->out = argv[++i];
		} else if (!strcmp(a, "--append")) {
			if (set_mode(o, MODE_APPEND))
				return -1;
		} else if (!strcmp(a, "--initrd")) {
			if (set_mode(o, MODE_INITRD))
				return -1;
		} else if (!strcmp(a, "--check")) {
			if (set_mode(o, MODE_CHECK))
				return -1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr,
			        "fsconfig: unknown option or missing "
			        "value: %s\n",
			        a);
			return -1;
		} else if (!o->config) {
			o->config = a;
		} else {
			fprintf(stderr, "fsconfig: more than one CONFIG\n");
			return -1;
		}
	}
	if (!o->config || o->mode == MODE_NONE) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Write the grub.cfg to a temporary file and rename it into place, so a
 * failed write never leaves a half file at OUT. */
static int write_grub(const struct fs_config *cfg, const char *out)
{
	if (!strcmp(out, "-")) {
		fs_emit_grub(stdout, cfg, NULL);
		return fflush(stdout) ? 1 : 0;
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "fsconfig: %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	int rc = fs_emit_grub(f, cfg, NULL);
	int werr = ferror(f);
	if (fclose(f) || werr || rc || rename(tmp, out)) {
		fprintf(stderr, "fsconfig: cannot write %s: %s\n", out,
		        rc ? "command line too long" : strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

static int run(const struct opts *o, const char *images)
{
	struct fs_config cfg;
	char err[1024];
	if (fs_config_load(&cfg, o->config, images, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	const char *why;
	if (o->run_ms && hvcfg_set(&cfg.hv, "run_ms", 6, o->run_ms,
	                           strlen(o->run_ms), &why)) {
		fprintf(stderr, "fsconfig: --run-ms %s: %s\n", o->run_ms, why);
		fs_config_free(&cfg);
		return 2;
	}
	int rc = 0;
	char line[FS_HV_CMDLINE_MAX];
	char *initrd;
	switch (o->mode) {
	case MODE_GRUB:
		rc = write_grub(&cfg, o->out);
		break;
	case MODE_APPEND:
		fs_emit_hv_cmdline(&cfg, NULL, line, sizeof(line));
		printf("%s\n", line);
		break;
	case MODE_INITRD:
		initrd = fs_emit_initrd(&cfg, images, err, sizeof(err));
		if (!initrd) {
			fprintf(stderr, "fsconfig: %s\n", err);
			rc = 2;
			break;
		}
		printf("%s\n", initrd);
		free(initrd);
		break;
	case MODE_CHECK:
		printf("%s: ok, %zu domain%s\n", o->config, cfg.n_domains,
		       cfg.n_domains == 1 ? "" : "s");
		break;
	case MODE_NONE:
		break;
	}
	fs_config_free(&cfg);
	if (!rc && fflush(stdout)) {
		fprintf(stderr, "fsconfig: writing output: %s\n",
		        strerror(errno));
		rc = 1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	if (parse_args(argc, argv, &o))
		return 2;
	char images[4096];
	if (!o.images) {
		if (exepath_sibling("guests", images, sizeof(images))) {
			fprintf(stderr, "fsconfig: cannot locate build/guests; "
			                "give --images DIR\n");
			return 2;
		}
		o.images = images;
	}
	return run(&o, o.images);
}
