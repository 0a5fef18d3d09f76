/* Console output: a small printf and the line discipline of log.h. */
#include "core/log.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/arch.h"
#include "fs_assert.h"

static unsigned level = LOG_INFO;

void log_init(void)
{
	arch_serial_init(COM1);
}

void log_set_level(unsigned l)
{
	level = l;
}

struct out {
	char *buf;
	size_t len, pos;
};

static void put(struct out *o, char c)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void put_num(struct out *o, unsigned long long v, unsigned base,
                    bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int vsnprintf_k(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct out o = {buf, len, 0};
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		int prec = -1;
		if (*fmt == '.') {
			prec = 0;
			fmt++;
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		if (*fmt == 'z') {
			lng = 2;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			bool neg = v < 0;
			put_num(&o, neg ? 0ull - (unsigned long long)v
			                : (unsigned long long)v,
			        10, neg, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = lng ? va_arg(ap, unsigned long long)
			                           : va_arg(ap, unsigned);
			put_num(&o, v, *fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, false, 0,
			        ' ');
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = 0;
			while (s[n] && (prec < 0 || n < prec))
				n++;
			for (int i = n; i < width; i++)
				put(&o, ' ');
			for (int i = 0; i < n; i++)
				put(&o, s[i]);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
			if (!*fmt)
				fmt--;
		}
	}
	if (len)
		buf[o.pos < len ? o.pos : len - 1] = 0;
	return (int)o.pos;
}

int snprintf_k(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf_k(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

static void puts_com1(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			arch_serial_putc(COM1, '\r');
		arch_serial_putc(COM1, *s);
	}
}

static void prefix(char lv)
{
	char p[40];
	ns_t t = arch_now_ns();
	snprintf_k(p, sizeof(p), "[%5llu.%09llu] %c ",
	           (unsigned long long)(t / NS_PER_S),
	           (unsigned long long)(t % NS_PER_S), lv);
	puts_com1(p);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if ((unsigned)lvl > level)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf_k(line, sizeof(line), fmt, ap);
	va_end(ap);
	prefix("EWID"[lvl]);
	puts_com1(line);
	puts_com1("\n");
}

void log_raw(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf_k(line, sizeof(line), fmt, ap);
	va_end(ap);
	puts_com1(line);
	puts_com1("\n");
}

void log_guest(const char *name, const char *buf, size_t len)
{
	char line[160];
	size_t n = 0;
	for (size_t i = 0; i <= len; i++) {
		bool end = i == len || buf[i] == '\n';
		if (!end) {
			char c = buf[i];
			line[n++] = (c >= 32 && c < 127) ? c : '?';
		}
		if ((end && n) || n == sizeof(line) - 1) {
			line[n] = 0;
			log_msg(LOG_INFO, "%s: %s", name, line);
			n = 0;
		}
	}
}

__attribute__((noreturn)) void panic(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf_k(line, sizeof(line), fmt, ap);
	va_end(ap);
	prefix('E');
	puts_com1("PANIC: ");
	puts_com1(line);
	puts_com1("\n");
	arch_debug_exit(1);
}

/* The portable core's assertion hook. */
_Noreturn void fs_panic(const char *file, int line, const char *why)
{
	panic("%s:%d: %s", file, line, why);
}
