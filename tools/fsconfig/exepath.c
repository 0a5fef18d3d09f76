/* Locating build-tree files from /proc/self/exe (see exepath.h). */
#include "exepath.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs_errors.h"

int exepath_sibling(const char *rel, char *out, size_t len)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(exe) - 1)
		return FS_ENOENT;
	exe[n] = 0;
	/* drop the program name, then its directory */
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return FS_ENOENT;
		*slash = 0;
	}
	int m = snprintf(out, len, "%s/%s", exe, rel);
	if (m < 0 || (size_t)m >= len)
		return FS_E2BIG;
	return FS_OK;
}
