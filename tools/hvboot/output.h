/*
 * hvboot's result: one JSON object (for scripts and the benchmarks) or a
 * table (for people). Shares are computed in integers, so the same report
 * always prints the same digits.
 */
#ifndef HVBOOT_OUTPUT_H
#define HVBOOT_OUTPUT_H

#include <stdio.h>

#include "report.h"

/* `boot`: "kernel", "iso", or NULL (a log parsed with --parse-log), shown
 * as the JSON "boot" field. */
void output_json(FILE *f, const struct hv_report *r, const char *boot);
void output_table(FILE *f, const struct hv_report *r, const char *boot);

#endif
