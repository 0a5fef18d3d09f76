/*
 * billingd's configuration file: `key = value` lines, `#` comments, every
 * key optional except link_socket. config/billingd.conf is the commented
 * example and the reference for each key. Errors are "FILE:LINE: reason".
 */
#ifndef BILLINGD_CONFIG_H
#define BILLINGD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

struct config {
	char link_socket[108];     /* sun_path size */
	char database[4096];       /* default var/billingd.db */
	uint64_t reconnect_min_ms; /* first retry after a failed connect */
	uint64_t reconnect_max_ms; /* backoff doubles up to this */
	enum log_level log_level;
	uint64_t batch_max_frames;  /* frames per transaction at most */
	uint64_t idle_timeout_ms;   /* a partial frame older: truncated */
	uint64_t resync_delay_ms;   /* after a loss, reconnect this soon */
	uint64_t desired_poll_ms;   /* look for desired-state changes */
	uint64_t cmd_timeout_ms;    /* a CMD unanswered this long is retried */
	uint64_t hello_timeout_ms;  /* no HELLO back this long: reconnect */
	uint64_t rollup_interval_s; /* 0: no automatic rollup */
	uint64_t retention_days;    /* raw samples and deltas kept, then
	                             * only rollups; 0: drop once rolled up */
	int sync_full;              /* synchronous=FULL (1) or NORMAL (0) */

	/* The REST API (web-api/, docs/api.md). */
	char api_listen[64];          /* numeric IPv4 or IPv6 address */
	uint64_t api_port;            /* 0: no API */
	uint64_t api_threads;         /* MHD thread pool size */
	uint64_t api_max_connections; /* over all clients */
	uint64_t api_per_ip_connections;
	uint64_t api_conn_memory_kb; /* per connection: headers + buffers */
	uint64_t api_conn_timeout_s; /* idle connection closed after */
	uint64_t api_max_body_kb;    /* larger request bodies: 413 */
	uint64_t api_apply_wait_ms;  /* shares change: wait for the RESP */
	uint64_t api_cmd_wait_ms;    /* pause/create/..: wait for the RESP */
	uint64_t api_health_max_lag_s; /* ingest lag above: health degraded */
	char api_tls_cert[4096];     /* PEM; both or neither: HTTPS */
	char api_tls_key[4096];
	char api_openapi[4096];    /* served at /v1/openapi.yaml */
	char billing_config[4096]; /* plans seeded from it (billing.h) */
};

void config_default(struct config *c);
/* Load path over the defaults. 0, or -1 with "FILE:LINE: reason" in err. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

#endif
