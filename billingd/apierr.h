/*
 * The project's error codes for the REST API and the code behind it
 * (billing.c, quota.c, web-api/). Each maps to one HTTP status and one
 * problem type in web-api's single table (RFC 9457 problem+json); code
 * below the HTTP layer never picks a status itself.
 */
#ifndef BILLINGD_APIERR_H
#define BILLINGD_APIERR_H

#include <stddef.h>

enum api_code {
	API_OK = 0,
	API_MALFORMED,       /* not parseable: bad JSON, duplicate keys */
	API_INVALID_FIELD,   /* a field of the wrong type or out of range */
	API_UNKNOWN_FIELD,   /* a field this endpoint does not take */
	API_MISSING_FIELD,   /* a required field is absent */
	API_BAD_PARAMETER,   /* a query parameter: bad date, month, step */
	API_NOT_FOUND,       /* no such domain/customer/invoice, or hidden */
	API_CONFLICT,        /* already exists, or the state forbids it */
	API_PRECONDITION,    /* If-Match does not match */
	API_UNAUTHORIZED,    /* no valid key */
	API_FORBIDDEN,       /* a valid key without the role for a change */
	API_TOO_LARGE,       /* body over the limit */
	API_UNSUPPORTED_TYPE, /* Content-Type not application/json */
	API_NOT_ACCEPTABLE,  /* Accept names nothing we produce */
	API_METHOD,          /* method not allowed on this route */
	API_HV_REFUSED,      /* the hypervisor refused the command */
	API_UNAVAILABLE,     /* the hypervisor link is down, command needs it */
	API_INTERNAL,        /* a store failure: logged, nothing changed */
	API_URI_TOO_LONG,    /* request target over API_URI_MAX (web-api) */
	API_CODE_COUNT
};

struct api_err {
	enum api_code code;
	char detail[256]; /* for people: which field, which limit */
};

/* Set e (if not NULL) and return -1, so `return api_fail(e, ...)` works. */
int api_fail(struct api_err *e, enum api_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
