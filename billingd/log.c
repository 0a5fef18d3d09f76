/* billingd's log; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum log_level log_threshold = LOG_INFO;

void blog(enum log_level lv, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	static const int prio[] = {3, 4, 6, 7}; /* syslog priorities */
	static int journal = -1;
	if (lv > log_threshold)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	va_list ap;
	va_start(ap, fmt);
	if (journal)
		fprintf(stderr, "<%d>", prio[lv]);
	fprintf(stderr, "billingd: %s: ", names[lv]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
