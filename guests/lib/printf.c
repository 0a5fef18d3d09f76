/*
 * fs_vsnprintf and friends (see printf.h for what is supported).
 *
 * One pass over the format: each conversion is rendered right-to-left into
 * a small digit buffer, then emitted with its padding through out_c(), which
 * counts every character but stores only what fits. That gives snprintf's
 * contract (the return value is the untruncated length) with no second pass.
 */
#include "printf.h"

#include <stdint.h>

#include "fs.h"

struct out {
	char *buf;
	size_t size;
	size_t len; /* characters produced so far, stored or not */
};

static void out_c(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_c(o, c);
}

struct spec {
	int left;  /* '-' */
	int zero;  /* '0' */
	int width; /* minimum field width */
	int prec;  /* %s: maximum characters, -1 if none */
};

static void out_str(struct out *o, const struct spec *sp, const char *s)
{
	int n = 0;

	if (s == NULL)
		s = "(null)";
	while (s[n] != '\0' && (sp->prec < 0 || n < sp->prec))
		n++;
	if (!sp->left)
		out_pad(o, ' ', sp->width - n);
	for (int i = 0; i < n; i++)
		out_c(o, s[i]);
	if (sp->left)
		out_pad(o, ' ', sp->width - n);
}

/* Prints v in base (10 or 16) with an optional '-' sign and the spec's
 * padding; zero padding goes between the sign and the digits. */
static void out_num(struct out *o, const struct spec *sp, uint64_t v, int neg,
                    unsigned base, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24]; /* 2^64 has 20 decimal digits */
	int n = 0, pad;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v != 0);
	pad = sp->width - n - (neg ? 1 : 0);
	if (!sp->left && !sp->zero)
		out_pad(o, ' ', pad);
	if (neg)
		out_c(o, '-');
	if (!sp->left && sp->zero)
		out_pad(o, '0', pad);
	while (n > 0)
		out_c(o, tmp[--n]);
	if (sp->left)
		out_pad(o, ' ', pad);
}

enum len_mod { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

static int64_t arg_signed(va_list *ap, enum len_mod lm)
{
	switch (lm) {
	case LEN_CHAR:
		return (signed char)va_arg(*ap, int);
	case LEN_SHORT:
		return (short)va_arg(*ap, int);
	case LEN_LONG:
		return va_arg(*ap, long);
	case LEN_LLONG:
		return va_arg(*ap, long long);
	case LEN_SIZE:
		return (int64_t)va_arg(*ap, size_t);
	case LEN_INT:
		break;
	}
	return va_arg(*ap, int);
}

static uint64_t arg_unsigned(va_list *ap, enum len_mod lm)
{
	switch (lm) {
	case LEN_CHAR:
		return (unsigned char)va_arg(*ap, unsigned);
	case LEN_SHORT:
		return (unsigned short)va_arg(*ap, unsigned);
	case LEN_LONG:
		return va_arg(*ap, unsigned long);
	case LEN_LLONG:
		return va_arg(*ap, unsigned long long);
	case LEN_SIZE:
		return va_arg(*ap, size_t);
	case LEN_INT:
		break;
	}
	return va_arg(*ap, unsigned);
}

/* Parses flags, width, precision and length at *fmt (just after '%'). */
static enum len_mod parse_spec(const char **fmt, struct spec *sp, va_list *ap)
{
	const char *f = *fmt;
	enum len_mod lm = LEN_INT;

	sp->left = sp->zero = sp->width = 0;
	sp->prec = -1;
	for (;; f++) {
		if (*f == '-')
			sp->left = 1;
		else if (*f == '0')
			sp->zero = 1;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = 1;
			sp->width = -sp->width;
		}
		f++;
	}
	while (*f >= '0' && *f <= '9' && sp->width < 100000)
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		sp->prec = 0;
		if (*f == '*') {
			sp->prec = va_arg(*ap, int);
			f++;
		}
		while (*f >= '0' && *f <= '9' && sp->prec < 100000)
			sp->prec = sp->prec * 10 + (*f++ - '0');
	}
	if (f[0] == 'h' && f[1] == 'h') {
		lm = LEN_CHAR;
		f += 2;
	} else if (f[0] == 'h') {
		lm = LEN_SHORT;
		f++;
	} else if (f[0] == 'l' && f[1] == 'l') {
		lm = LEN_LLONG;
		f += 2;
	} else if (f[0] == 'l') {
		lm = LEN_LONG;
		f++;
	} else if (f[0] == 'z') {
		lm = LEN_SIZE;
		f++;
	}
	*fmt = f;
	return lm;
}

int fs_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};
	struct spec sp;
	enum len_mod lm;
	va_list aq;

	va_copy(aq, ap);
	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		fmt++;
		lm = parse_spec(&fmt, &sp, &aq);
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = arg_signed(&aq, lm);

			out_num(&o, &sp, v < 0 ? -(uint64_t)v : (uint64_t)v,
			        v < 0, 10, 0);
			break;
		}
		case 'u':
			out_num(&o, &sp, arg_unsigned(&aq, lm), 0, 10, 0);
			break;
		case 'x':
		case 'X':
			out_num(&o, &sp, arg_unsigned(&aq, lm), 0, 16,
			        *fmt == 'X');
			break;
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, &sp, FS_PTR(va_arg(aq, void *)), 0, 16, 0);
			break;
		case 'c':
			if (!sp.left)
				out_pad(&o, ' ', sp.width - 1);
			out_c(&o, (char)va_arg(aq, int));
			if (sp.left)
				out_pad(&o, ' ', sp.width - 1);
			break;
		case 's':
			out_str(&o, &sp, va_arg(aq, const char *));
			break;
		case '%':
			out_c(&o, '%');
			break;
		case '\0':
			fmt--; /* a lone '%' at the end: stop there */
			break;
		default: /* unknown conversion: show it verbatim */
			out_c(&o, '%');
			out_c(&o, *fmt);
			break;
		}
	}
	va_end(aq);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len > INT32_MAX ? INT32_MAX : (int)o.len;
}

int fs_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fs_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int fs_printf(const char *fmt, ...)
{
	char buf[FS_PRINTF_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fs_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	return (int)fs_console_write(buf, (uint64_t)n);
}

void fs_banner(const struct fs_domain_info *info, const char *image)
{
	fs_printf("%s: dom %u (%.*s) args '%.*s'\n", image, info->domid,
	          (int)FS_NAME_MAX, info->name, (int)FS_ARGS_MAX, info->args);
}
