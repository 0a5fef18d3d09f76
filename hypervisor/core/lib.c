/* Freestanding string functions. memset/memcpy use rep stos/movs: on QEMU
 * TCG and on modern cores these are the fast path for page-sized work. */
#include "core/lib.h"

#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	if (!(((uintptr_t)dst | (uintptr_t)src | n) & 7)) {
		/* Whole quadwords: 8x fewer iterations (block I/O, pages). */
		size_t nq = n / 8;
		__asm__ volatile("rep movsq"
		                 : "+D"(d), "+S"(src), "+c"(nq)
		                 :
		                 : "memory");
		return dst;
	}
	__asm__ volatile("rep movsb"
	                 : "+D"(d), "+S"(src), "+c"(n)
	                 :
	                 : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	if (!(((uintptr_t)dst | n) & 7)) {
		/* Whole quadwords: 8x fewer iterations (zeroing frames). */
		uint64_t q = 0x0101010101010101ull * (uint8_t)c;
		size_t nq = n / 8;
		__asm__ volatile("rep stosq"
		                 : "+D"(d), "+c"(nq)
		                 : "a"(q)
		                 : "memory");
		return dst;
	}
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d == s || n == 0)
		return dst;
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

size_t strlcpy_k(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = 0;
	}
	return n;
}

int streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}
