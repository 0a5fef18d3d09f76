/*
 * hvctl's REST client mode (--api URL --key KEY): the same operations as
 * --link, through billingd's API (docs/api.md). Plain HTTP/1.1 over a TCP
 * socket, one request per connection; http:// only (for HTTPS put a TLS
 * terminator or an SSH tunnel in front, docs/api.md).
 */
#ifndef HVCTL_REST_H
#define HVCTL_REST_H

#include <stdbool.h>

/* Run cmd with its arguments. Exit status as hvctl's: 0 done, 1 refused
 * or failed, 2 bad command line. */
int rest_main(const char *url, const char *key, bool json, int timeout_ms,
              const char *cmd, int argc, char **argv);

#endif
