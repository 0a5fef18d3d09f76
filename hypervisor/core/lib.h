/* The few libc functions the hypervisor has (core/lib.c). The compiler may
 * emit calls to the mem* ones by itself. */
#ifndef CORE_LIB_H
#define CORE_LIB_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strlcpy_k(char *dst, const char *src, size_t size);
int streq(const char *a, const char *b);

#endif
