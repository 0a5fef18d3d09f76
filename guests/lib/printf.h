/*
 * Formatted output for guests: a small snprintf and a console printf.
 *
 * Conversions: %d %i %u %x %X %c %s %p %%, length modifiers hh h l ll z,
 * flags '-' (left-align) and '0' (zero-pad numbers), a width (digits or *),
 * and a precision for %s (".N" or ".*"). No floating point: guests print
 * integers (ns, counts) and scale them themselves.
 */
#ifndef GUEST_PRINTF_H
#define GUEST_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

#include "hypercall.h"

/* Formats into buf (size bytes, always NUL-terminated when size > 0) and
 * returns the length the whole output would have had, like C's snprintf. */
int fs_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int fs_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats into a stack buffer and writes it with one FS_HC_CONSOLE_WRITE,
 * so lines from different domains never interleave mid-line. Output beyond
 * FS_PRINTF_MAX bytes is cut off. Returns the hypercall's result. */
#define FS_PRINTF_MAX 512u
int fs_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The start line every image prints: "NAME: dom D (DOMAIN) args 'ARGS'". */
void fs_banner(const struct fs_domain_info *info, const char *image);

#endif
