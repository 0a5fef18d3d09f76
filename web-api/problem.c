/*
 * The one table from the project's error codes (billingd/apierr.h) to HTTP:
 * every error the API sends is application/problem+json (RFC 9457) built
 * here. The type is a URN documented in docs/api.md ("Errors"), stable for
 * clients to switch on; the title is per type, the detail per occurrence.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct problem_kind kinds[API_CODE_COUNT] = {
    [API_OK] = {200, "ok", "OK"},
    [API_MALFORMED] = {400, "malformed", "Malformed request body"},
    [API_INVALID_FIELD] = {422, "invalid-field",
                           "A field has the wrong type or is out of range"},
    [API_UNKNOWN_FIELD] = {422, "unknown-field",
                           "A field this endpoint does not take"},
    [API_MISSING_FIELD] = {422, "missing-field", "A required field is absent"},
    [API_BAD_PARAMETER] = {400, "bad-parameter", "Bad query parameter"},
    [API_NOT_FOUND] = {404, "not-found", "Not found"},
    [API_CONFLICT] = {409, "conflict", "Conflicts with the current state"},
    [API_PRECONDITION] = {412, "precondition-failed",
                          "If-Match does not match the current ETag"},
    [API_UNAUTHORIZED] = {401, "unauthorized", "A valid API key is needed"},
    [API_FORBIDDEN] = {403, "forbidden", "This key may not do that"},
    [API_TOO_LARGE] = {413, "too-large", "Request body too large"},
    [API_UNSUPPORTED_TYPE] = {415, "unsupported-media-type",
                              "Unsupported Content-Type"},
    [API_NOT_ACCEPTABLE] = {406, "not-acceptable",
                            "No acceptable representation"},
    [API_METHOD] = {405, "method-not-allowed", "Method not allowed"},
    [API_HV_REFUSED] = {409, "hypervisor-refused",
                        "The hypervisor refused the command"},
    [API_UNAVAILABLE] = {503, "hypervisor-unavailable",
                         "The hypervisor is not reachable now"},
    [API_INTERNAL] = {500, "internal", "Internal error"},
    [API_URI_TOO_LONG] = {414, "uri-too-long", "Request target too long"},
};

const struct problem_kind *problem_kind(enum api_code code)
{
	if ((unsigned)code >= API_CODE_COUNT || !kinds[code].slug)
		code = API_INTERNAL;
	return &kinds[code];
}

char *problem_json(enum api_code code, const char *detail, size_t *len)
{
	const struct problem_kind *k = problem_kind(code);
	char type[96];
	snprintf(type, sizeof(type), "urn:fairshare:problem:%s", k->slug);
	/* The detail quotes what the client sent (a name, a parameter), cut
	 * to a length that may split a UTF-8 sequence or that was never
	 * UTF-8: jansson refuses such strings, and the answer must not lose
	 * its body, so anything but printable ASCII becomes '?'. */
	char clean[512];
	size_t n = 0;
	for (; detail[n] && n + 1 < sizeof(clean); n++)
		clean[n] = detail[n] >= 0x20 && detail[n] < 0x7f ? detail[n] : '?';
	clean[n] = '\0';
	json_t *j =
	    json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", k->title,
	              "status", (int)k->status, "detail", clean);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s) {
		*len = 0;
		return NULL;
	}
	n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t) {
		*len = n;
		return s;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	*len = n + 1;
	return t;
}
