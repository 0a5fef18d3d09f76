/*
 * Paths relative to the build tree the running program lives in. The tools
 * are installed as build/bin/NAME and find their inputs beside that
 * directory (build/guests, build/hypervisor/fairshare.bin) whatever the
 * current directory is.
 */
#ifndef FSCONFIG_EXEPATH_H
#define FSCONFIG_EXEPATH_H

#include <stddef.h>

/* out = the parent of the program's directory, "/", rel: for
 * /x/build/bin/hvboot and "guests", "/x/build/guests". Returns 0, or a
 * negative FS_E* code (FS_E2BIG: out too small; FS_ENOENT: /proc/self/exe
 * unreadable). */
int exepath_sibling(const char *rel, char *out, size_t len);

#endif
