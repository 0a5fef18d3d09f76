/*
 * billingd's log: one line per message on stderr, "billingd: LEVEL: text".
 * Under systemd stderr goes to the journal (billingd.service), which adds
 * the time stamps; the levels match journald's priorities via the
 * "<N>" prefixes when JOURNAL_STREAM is set.
 */
#ifndef BILLINGD_LOG_H
#define BILLINGD_LOG_H

#include "config.h"

extern enum log_level log_threshold;

void blog(enum log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
