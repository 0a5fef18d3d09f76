/*
 * The log console (COM1). Every line starts with hypervisor monotonic time
 * and a level letter:  "[   12.345678901] I message". Lines starting with
 * '@' (log_raw) are the machine-readable report that hvboot parses.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_init(void);
void log_set_level(unsigned level);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A line without the time prefix (report lines). */
void log_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Guest console text: one prefixed line per '\n'; unprintables -> '?'. */
void log_guest(const char *name, const char *buf, size_t len);

int vsnprintf_k(char *buf, size_t len, const char *fmt, va_list ap);
int snprintf_k(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A hypervisor bug: print the reason, end the run with status 1. */
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt,
                                                           ...);

#endif
