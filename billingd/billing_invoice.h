/*
 * An invoice in memory, between billing_invoice.c (computing, freezing)
 * and billing_render.c (the JSON and CSV documents).
 */
#ifndef BILLINGD_BILLING_INVOICE_H
#define BILLINGD_BILLING_INVOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "billing_int.h"

/* Line kinds: 0 the base fee, 1 + enum meter the metered ones. */
extern const char *const meter_name[1 + M_N];
extern const char *const meter_unit[1 + M_N];
extern const char *const meter_price_unit[1 + M_N];

struct inv_line {
	char *customer; /* NULL: domains without a customer */
	char plan[WIRE_NAME_FIELD], currency[4];
	char domain[WIRE_NAME_FIELD];
	int meter; /* index into meter_name */
	char qty[U128_DIGITS], incl[U128_DIGITS], billable[U128_DIGITS];
	int64_t price, amount;
};

struct invoice {
	char month[8];
	bool final;
	struct inv_line *v;
	size_t n, cap;
};

/* A customer with no lines still gets its (empty) entry when asked for. */
struct empty_cust {
	const char *id;
	const struct plan *plan;
};

/* The document of inv (all customers, or only `customer`), JSON or CSV,
 * into *out (malloc'd). 0 or -1 (out of memory, a total past 2^63). */
int invoice_render(const struct invoice *inv, const char *customer,
                   const struct empty_cust *empty, bool csv, char **out,
                   size_t *len);

#endif
