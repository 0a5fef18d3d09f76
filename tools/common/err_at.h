/*
 * "FILE:LINE: message" into a caller's error buffer: the one format every
 * host-side parser reports a bad line with (fsconfig's ini files, hvboot's
 * end-of-run report, hvsim's scenarios).
 */
#ifndef TOOLS_COMMON_ERR_AT_H
#define TOOLS_COMMON_ERR_AT_H

#include <stdarg.h>
#include <stddef.h>

/* Writes "file:line: " and fmt/ap into err (errlen bytes, always
 * NUL-terminated, truncated if needed). */
void verr_at(char *err, size_t errlen, const char *file, unsigned line,
             const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

#endif
