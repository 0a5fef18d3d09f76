/* File helpers for hvboot (see files.h). */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int files_join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s", a, b);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int files_copy(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = -1;
				break;
			}
			off += w;
		}
		if (rc)
			break;
	}
	int saved = errno;
	close(in);
	if (close(out))
		rc = -1;
	else
		errno = saved;
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int files_rmtree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void files_tail(const char *path, unsigned lines, const char *prefix, FILE *out)
{
	FILE *f = fopen(path, "r");
	if (!f || !lines) {
		if (f)
			fclose(f);
		return;
	}
	/* ring of the last `lines` lines */
	char **ring = calloc(lines, sizeof(*ring));
	char *buf = NULL;
	size_t cap = 0, seen = 0;
	if (!ring) {
		fclose(f);
		return;
	}
	while (getline(&buf, &cap, f) >= 0) {
		free(ring[seen % lines]);
		ring[seen % lines] = buf;
		buf = NULL;
		cap = 0;
		seen++;
	}
	free(buf);
	fclose(f);
	size_t first = seen > lines ? seen - lines : 0;
	for (size_t i = first; i < seen; i++) {
		char *l = ring[i % lines];
		size_t n = strlen(l);
		while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
			n--; /* the hypervisor ends lines with CR LF */
		fprintf(out, "%s%.*s\n", prefix, (int)n, l);
	}
	for (unsigned i = 0; i < lines; i++)
		free(ring[i]);
	free(ring);
}

int files_cat(const char *path, FILE *out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, out);
	int rc = ferror(f) ? -1 : 0;
	fclose(f);
	return rc;
}
