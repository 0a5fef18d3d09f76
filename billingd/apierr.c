#include "apierr.h"

#include <stdarg.h>
#include <stdio.h>

int api_fail(struct api_err *e, enum api_code code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		e->code = code;
		vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
		va_end(ap);
	}
	return -1;
}
