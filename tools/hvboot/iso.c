/*
 * ISO builder (see iso.h): copy the kernel and the images the config uses
 * into a GRUB tree, write grub.cfg with fsconfig's emitter, then run
 * grub-mkrescue. Files are copied, not linked: xorriso would record
 * symlinks as symlinks.
 */
#include "iso.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.h"
#include "runner.h"
#include "tools/fsconfig/emit.h"

#define PATH_LEN 4096

static int join(char *out, const char *a, const char *b)
{
	if (files_join(out, PATH_LEN, a, b)) {
		fprintf(stderr, "hvboot: path too long: %s%s\n", a, b);
		return -1;
	}
	return 0;
}

static int mkdirs(const char *dir)
{
	char sub[PATH_LEN];
	static const char *const parts[] = {"/iso", "/iso/boot",
	                                    "/iso/boot/grub"};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (join(sub, dir, parts[i]))
			return -1;
		if (mkdir(sub, 0755) && errno != EEXIST) {
			fprintf(stderr, "hvboot: %s: %s\n", sub,
			        strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int copy(const char *src, const char *dst)
{
	if (files_copy(src, dst)) {
		fprintf(stderr, "hvboot: copying %s to %s: %s\n", src, dst,
		        strerror(errno));
		return -1;
	}
	return 0;
}

static int copy_boot_files(const struct iso_inputs *in, const char *root)
{
	char dst[PATH_LEN], src[PATH_LEN], rel[PATH_LEN];
	if (join(dst, root, FS_ISO_KERNEL) || copy(in->kernel, dst))
		return -1;
	for (size_t i = 0; i < in->cfg->n; i++) {
		const char *image = in->cfg->doms[i].image;
		snprintf(rel, sizeof(rel), FS_ISO_IMAGE_FMT, image);
		if (join(dst, root, rel))
			return -1;
		if (!access(dst, F_OK))
			continue; /* another domain runs the same image */
		snprintf(rel, sizeof(rel), "/%s.elf", image);
		if (join(src, in->images, rel) || copy(src, dst))
			return -1;
	}
	for (size_t i = 0; i < in->cfg->n; i++) {
		if (!fs_first_disk_image(in->cfg, i))
			continue;
		const char *blob = in->cfg->doms[i].disk_image;
		snprintf(rel, sizeof(rel), FS_ISO_BLOB_FMT, blob);
		if (join(dst, root, rel))
			return -1;
		snprintf(rel, sizeof(rel), "/%s.img", blob);
		if (join(src, in->images, rel) || copy(src, dst))
			return -1;
	}
	return 0;
}

static int write_grub_cfg(const struct iso_inputs *in, const char *root)
{
	char path[PATH_LEN];
	if (join(path, root, FS_ISO_GRUB_CFG))
		return -1;
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "hvboot: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = fs_emit_grub(f, in->cfg, in->extra);
	if (ferror(f) | fclose(f) | rc) {
		fprintf(stderr, "hvboot: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static int mkrescue(const struct iso_inputs *in, const char *dir, char *root,
                    char *iso)
{
	char log[PATH_LEN], err[512];
	if (join(log, dir, "/grub-mkrescue.log"))
		return -1;
	char *argv[] = {"grub-mkrescue", "-o", iso, root, NULL};
	struct run_result res;
	if (runner_run(argv, log, in->timeout_s, &res, err, sizeof(err))) {
		fprintf(stderr, "hvboot: %s\n", err);
		return -1;
	}
	if (res.interrupted || res.timed_out || !WIFEXITED(res.status) ||
	    WEXITSTATUS(res.status)) {
		fprintf(stderr, "hvboot: grub-mkrescue failed%s:\n",
		        res.timed_out ? " (timed out)" : "");
		files_tail(log, 40, "  ", stderr);
		return -1;
	}
	return 0;
}

int iso_build(const struct iso_inputs *in, const char *dir, char *iso,
              size_t len)
{
	char root[PATH_LEN];
	if (join(root, dir, "/iso") ||
	    files_join(iso, len, dir, "/fairshare.iso")) {
		fprintf(stderr, "hvboot: temporary directory path too long\n");
		return -1;
	}
	if (mkdirs(dir) || copy_boot_files(in, root) ||
	    write_grub_cfg(in, root))
		return -1;
	return mkrescue(in, dir, root, iso);
}
