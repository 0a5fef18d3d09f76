/*
 * Small file helpers for hvboot: copying boot files into the ISO tree,
 * removing the temporary directory, and showing the hypervisor's log.
 * Each returns 0 or -1 with errno set, unless stated otherwise.
 */
#ifndef HVBOOT_FILES_H
#define HVBOOT_FILES_H

#include <stddef.h>
#include <stdio.h>

/* out = a followed by b; -1 with errno ENAMETOOLONG if it does not fit. */
int files_join(char *out, size_t len, const char *a, const char *b);

int files_copy(const char *src, const char *dst);

/* Remove dir and everything under it (symlinks are not followed). */
int files_rmtree(const char *dir);

/* Copy the last `lines` lines of path to out, each prefixed with `prefix`;
 * nothing if path is missing or empty. */
void files_tail(const char *path, unsigned lines, const char *prefix,
                FILE *out);

/* Copy the whole of path to out. */
int files_cat(const char *path, FILE *out);

#endif
