/* verr_at() (err_at.h). */
#include "err_at.h"

#include <stdio.h>

void verr_at(char *err, size_t errlen, const char *file, unsigned line,
             const char *fmt, va_list ap)
{
	int n = snprintf(err, errlen, "%s:%u: ", file, line);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}
