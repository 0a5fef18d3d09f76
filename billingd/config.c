/*
 * billingd configuration reader; see config.h and config/billingd.conf.
 * Strict: an unknown key, a repeated key or a malformed value is an error.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_default(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->database, sizeof(c->database), "var/billingd.db");
	c->reconnect_min_ms = 100;
	c->reconnect_max_ms = 10000;
	c->log_level = LOG_INFO;
	c->batch_max_frames = 1024;
	c->idle_timeout_ms = 2000;
	c->resync_delay_ms = 200;
	c->desired_poll_ms = 500;
	c->cmd_timeout_ms = 5000;
	c->hello_timeout_ms = 1000;
	c->rollup_interval_s = 60;
	c->retention_days = 62;
	c->sync_full = 1;
	snprintf(c->api_listen, sizeof(c->api_listen), "127.0.0.1");
	c->api_port = 8080;
	c->api_threads = 4;
	c->api_max_connections = 256;
	c->api_per_ip_connections = 0;
	c->api_conn_memory_kb = 64;
	c->api_conn_timeout_s = 30;
	c->api_max_body_kb = 64;
	c->api_apply_wait_ms = 2000;
	c->api_cmd_wait_ms = 5000;
	c->api_health_max_lag_s = 10;
	snprintf(c->api_openapi, sizeof(c->api_openapi), "docs/openapi.yaml");
	snprintf(c->billing_config, sizeof(c->billing_config),
	         "config/billing.conf");
}

struct num_key {
	const char *name;
	size_t off;
	uint64_t min, max;
};

#define NK(f, lo, hi)                                                          \
	{                                                                      \
#f, offsetof(struct config, f), lo, hi                         \
	}
static const struct num_key nums[] = {
    NK(reconnect_min_ms, 1, 3600000),
    NK(reconnect_max_ms, 1, 3600000),
    NK(batch_max_frames, 1, 1000000),
    NK(idle_timeout_ms, 10, 3600000),
    NK(resync_delay_ms, 0, 3600000),
    NK(desired_poll_ms, 10, 3600000),
    NK(cmd_timeout_ms, 10, 3600000),
    NK(rollup_interval_s, 0, 86400),
    NK(retention_days, 0, 36500),
    NK(hello_timeout_ms, 10, 3600000),
    NK(api_port, 0, 65535),
    NK(api_threads, 1, 64),
    NK(api_max_connections, 1, 65536),
    NK(api_per_ip_connections, 0, 65536),
    NK(api_conn_memory_kb, 16, 65536),
    NK(api_conn_timeout_s, 1, 86400),
    NK(api_max_body_kb, 1, 65536),
    NK(api_apply_wait_ms, 0, 60000),
    NK(api_cmd_wait_ms, 100, 600000),
    NK(api_health_max_lag_s, 1, 86400),
};
#define NNUMS (sizeof(nums) / sizeof(nums[0]))

/* Path and address keys: any non-empty value that fits. */
struct str_key {
	const char *name;
	size_t off, size;
};

#define SK(f)                                                                  \
	{                                                                      \
#f, offsetof(struct config, f),                                \
		    sizeof(((struct config *)0)->f)                            \
	}
static const struct str_key strs[] = {
    SK(api_listen),  SK(api_tls_cert),   SK(api_tls_key),
    SK(api_openapi), SK(billing_config),
};
#define NSTRS (sizeof(strs) / sizeof(strs[0]))

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[8192];
	unsigned ln = 0;
	bool seen[NNUMS + NSTRS + 4] = {false};
	bool have_socket = false;
	int rc = -1;
	while (fgets(line, sizeof(line), f)) {
		ln++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line[strcspn(line, "\n")] = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected key = value",
			         path, ln);
			goto out;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		size_t idx = 0;
		bool done = false;
		for (size_t i = 0; i < NNUMS && !done; i++) {
			if (strcmp(k, nums[i].name))
				continue;
			idx = i;
			done = true;
			uint64_t x;
			if (parse_u64(v, &x) || x < nums[i].min ||
			    x > nums[i].max) {
				snprintf(err, errlen,
				         "%s:%u: %s must be an integer "
				         "%llu..%llu, got '%s'",
				         path, ln, k,
				         (unsigned long long)nums[i].min,
				         (unsigned long long)nums[i].max, v);
				goto out;
			}
			*(uint64_t *)(void *)((char *)c + nums[i].off) = x;
		}
		for (size_t i = 0; i < NSTRS && !done; i++) {
			if (strcmp(k, strs[i].name))
				continue;
			idx = NNUMS + 4 + i;
			done = true;
			if (!*v || strlen(v) >= strs[i].size) {
				snprintf(err, errlen,
				         "%s:%u: %s must be 1..%zu bytes", path,
				         ln, k, strs[i].size - 1);
				goto out;
			}
			snprintf((char *)c + strs[i].off, strs[i].size, "%s",
			         v);
		}
		if (!done) {
			if (!strcmp(k, "link_socket")) {
				idx = NNUMS;
				if (!*v ||
				    strlen(v) >= sizeof(c->link_socket)) {
					snprintf(err, errlen,
					         "%s:%u: link_socket must be a "
					         "path of 1..%zu bytes",
					         path, ln,
					         sizeof(c->link_socket) - 1);
					goto out;
				}
				snprintf(c->link_socket, sizeof(c->link_socket),
				         "%s", v);
				have_socket = true;
			} else if (!strcmp(k, "database")) {
				idx = NNUMS + 1;
				if (!*v || strlen(v) >= sizeof(c->database)) {
					snprintf(err, errlen,
					         "%s:%u: database needs a path",
					         path, ln);
					goto out;
				}
				snprintf(c->database, sizeof(c->database), "%s",
				         v);
			} else if (!strcmp(k, "log_level")) {
				idx = NNUMS + 2;
				static const char *lv[] = {"error", "warn",
				                           "info", "debug"};
				int found = -1;
				for (int i = 0; i < 4; i++)
					if (!strcmp(v, lv[i]))
						found = i;
				if (found < 0) {
					snprintf(
					    err, errlen,
					    "%s:%u: log_level must be error, "
					    "warn, info or debug, got '%s'",
					    path, ln, v);
					goto out;
				}
				c->log_level = (enum log_level)found;
			} else if (!strcmp(k, "synchronous")) {
				idx = NNUMS + 3;
				if (!strcmp(v, "full"))
					c->sync_full = 1;
				else if (!strcmp(v, "normal"))
					c->sync_full = 0;
				else {
					snprintf(
					    err, errlen,
					    "%s:%u: synchronous must be full "
					    "or normal, got '%s'",
					    path, ln, v);
					goto out;
				}
			} else {
				snprintf(err, errlen, "%s:%u: unknown key '%s'",
				         path, ln, k);
				goto out;
			}
		}
		if (seen[idx]) {
			snprintf(err, errlen, "%s:%u: key '%s' given twice",
			         path, ln, k);
			goto out;
		}
		seen[idx] = true;
	}
	if (!have_socket) {
		snprintf(err, errlen, "%s:%u: link_socket is required", path,
		         ln ? ln : 1);
		goto out;
	}
	if (c->reconnect_min_ms > c->reconnect_max_ms) {
		snprintf(err, errlen,
		         "%s:%u: reconnect_min_ms exceeds reconnect_max_ms",
		         path, ln ? ln : 1);
		goto out;
	}
	if (!*c->api_tls_cert != !*c->api_tls_key) {
		snprintf(err, errlen,
		         "%s: api_tls_cert and api_tls_key go together", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}
