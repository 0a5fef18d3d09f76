/*
 * hvctl: the operator's command-line tool.
 *
 *   hvctl --link PATH [--json] [--timeout-ms N] COMMAND [ARGS]
 *
 *   list                       domains: state, memory, shares, limits
 *   usage [NAME]               cumulative usage counters, now
 *   set NAME key=value ...     shares, I/O and memory limits, live
 *   pause NAME | unpause NAME | destroy NAME
 *   create IMAGE NAME [key=value ...] [args='K=V K=V']
 *   shutdown                   shut the hypervisor down
 *
 * With --link it talks straight to a hypervisor's (or hvsim's) management
 * link when no billingd holds it: HELLO, then one CMD at a time, each
 * answered by a RESP with the same request id. It never acknowledges
 * records: METERs and EVENTs stay in the hypervisor's replay buffer for
 * billingd.
 *
 *   hvctl --api URL --key KEY [--json] [--timeout-ms N] COMMAND [ARGS]
 *
 * talks to billingd's REST API instead (rest.c): list, show NAME, set,
 * pause, unpause, destroy, create (with owner=ID), invoice MONTH
 * [CUSTOMER], usage NAME FROM TO [STEP], owner NAME [CUSTOMER|none].
 * This is the way while billingd holds the link.
 *
 * Exit status: 0 done; 1 refused by the hypervisor (the FS_E* reason is
 * printed) or a link failure; 2 a bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_errors.h"
#include "rest.h"
#include "tools/link/kv.h"
#include "tools/link/link.h"

static struct link lk;
static int timeout_ms = 5000;
static bool json;
static uint64_t boot_id;
static uint64_t next_req = 1;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: hvctl --link PATH [--json] [--timeout-ms N] COMMAND\n"
	        "  list                         list domains\n"
	        "  usage [NAME]                 usage counters now\n"
	        "  set NAME key=value ...       change shares and limits\n"
	        "  pause NAME | unpause NAME | destroy NAME\n"
	        "  create IMAGE NAME [key=value ...] [args='K=V ...']\n"
	        "  shutdown                     shut the hypervisor down\n"
	        "keys: cpu_weight cpu_cap_pct warp_us warp_limit_us unwarp_us\n"
	        "      io_bps io_iops io_burst_bytes io_burst_ops\n"
	        "      memory_max_mb mem_growth_pages_per_s "
	        "mem_growth_burst_pages\n"
	        "      memory_mb (create only)\n"
	        "usage: hvctl --api URL --key KEY [--json] [--timeout-ms N] "
	        "COMMAND\n"
	        "  list | show NAME | set NAME key=value ...\n"
	        "  pause NAME | unpause NAME | destroy NAME\n"
	        "  create IMAGE NAME [key=value ...] [args='K=V ...'] "
	        "[owner=ID]\n"
	        "  invoice YYYY-MM [CUSTOMER]   CSV (JSON with --json)\n"
	        "  usage NAME FROM TO [1m|1h|1d] RFC 3339 times\n"
	        "  owner NAME [CUSTOMER|none]   show, or move from the next "
	        "minute\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hvctl: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

/* Wait for a message of `type` (and, for RESP, request id `req`),
 * skipping everything else. 0, or -1 on timeout or disconnect. */
static int wait_for(uint8_t type, uint64_t req)
{
	uint64_t end = link_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
	for (;;) {
		struct link_event ev;
		while (link_next(&lk, &ev) != LINK_EV_NONE) {
			if (ev.kind != LINK_EV_MSG || lk.msg.type != type)
				continue;
			if (type == WIRE_RESP &&
			    lk.msg.u.resp.request_id != req)
				continue;
			return 0;
		}
		if (lk.eof)
			return -1;
		if (link_flush(&lk))
			return -1;
		uint64_t now = link_now_ns();
		if (now >= end)
			return -1;
		struct pollfd p = {.fd = lk.fd, .events = POLLIN};
		if (link_tx_pending(&lk))
			p.events |= POLLOUT;
		poll(&p, 1, (int)((end - now) / NS_PER_MS) + 1);
		if (link_read(&lk) < 0 && !lk.eof)
			return -1;
	}
}

static int connect_link(const char *path)
{
	char err[256];
	link_init(&lk);
	if (link_connect(&lk, path, err, sizeof(err)))
		return fail("%s", err);
	struct wire_msg m = {.type = WIRE_HELLO};
	m.u.hello = (struct wire_hello){.role = WIRE_ROLE_CONTROLLER,
	                                .proto_min = 1,
	                                .proto_max = 1,
	                                .mono_ns = link_now_ns()};
	link_send(&lk, &m, 0, 0);
	if (wait_for(WIRE_HELLO, 0))
		return fail("%s: no HELLO from the hypervisor within %d ms "
		            "(is another controller connected?)",
		            path, timeout_ms);
	boot_id = lk.msg.u.hello.boot_id;
	return 0;
}

/* Send c (request id filled in) and wait for its RESP, left in lk.msg.
 * Returns the RESP status, or 1 after printing a link failure. */
static int request(struct wire_cmd *c)
{
	struct wire_msg m = {.type = WIRE_CMD};
	c->request_id = next_req++;
	m.u.cmd = *c;
	if (link_send(&lk, &m, 0, 0) < 0)
		return fail("cannot encode the command");
	if (wait_for(WIRE_RESP, c->request_id))
		return fail("no answer within %d ms", timeout_ms);
	return lk.msg.u.resp.status;
}

static int refused(const char *what, int status)
{
	return fail("%s refused: %s (%s)", what, link_err_name(status),
	            link_err_text(status));
}

/* All domains, paged; *n of them into a malloc'd array. */
static int list_all(struct wire_domain **out, size_t *n)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	domid_t cursor = 0;
	do {
		struct wire_cmd c = {.op = WIRE_OP_LIST_DOMAINS,
		                     .domid = DOMID_INVALID};
		c.u.cursor = cursor;
		int st = request(&c);
		if (st)
			return st > 0 ? st : refused("list", st);
		const struct wire_domain_list *l = &lk.msg.u.resp.u.list;
		if (*n + l->count > cap) {
			cap = (*n + l->count) * 2;
			struct wire_domain *nd =
			    realloc(*out, cap * sizeof(*nd));
			if (!nd)
				return fail("out of memory");
			*out = nd;
		}
		memcpy(*out + *n, l->d, l->count * sizeof(l->d[0]));
		*n += l->count;
		cursor = l->next;
	} while (cursor != DOMID_INVALID);
	return 0;
}

/* The domain entry called name. 0, or 1 after printing why not. */
static int lookup(const char *name, struct wire_domain *d)
{
	struct wire_domain *all;
	size_t n;
	int rc = list_all(&all, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i].name, name) == 0) {
			*d = all[i];
			free(all);
			return 0;
		}
	free(all);
	return fail("no domain named '%s'", name);
}

static const char *state_name(uint8_t st)
{
	static const char *names[] = {"?",      "created", "running", "paused",
	                              "exited", "crashed", "dying"};
	return st <= WIRE_DOM_STATE_MAX ? names[st] : "?";
}

static void print_domain_json(const struct wire_domain *d, bool first)
{
	struct kv_params p;
	kv_from_domain(d, &p);
	printf("%s{\"domid\":%u,\"name\":\"%s\",\"state\":\"%s\"",
	       first ? "" : ",", d->domid, d->name, state_name(d->state));
	for (unsigned k = 0; k < KV_NKEYS; k++)
		printf(",\"%s\":%" PRIu64, kv_name(k), p.v[k]);
	printf("}");
}

static int cmd_list(void)
{
	struct wire_domain *d;
	size_t n;
	int rc = list_all(&d, &n);
	if (rc)
		return rc;
	if (json) {
		printf("{\"boot_id\":%" PRIu64 ",\"domains\":[", boot_id);
		for (size_t i = 0; i < n; i++)
			print_domain_json(&d[i], i == 0);
		printf("]}\n");
	} else {
		printf("%6s %-20s %-8s %7s %6s %4s %9s %12s %8s %8s\n", "domid",
		       "name", "state", "mem_mb", "weight", "cap", "warp_us",
		       "io_bps", "io_iops", "max_mb");
		for (size_t i = 0; i < n; i++)
			printf("%6u %-20s %-8s %7" PRIu64 " %6u %4u %9" PRIu64
			       " %12" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
			       d[i].domid, d[i].name, state_name(d[i].state),
			       d[i].memory_mb, d[i].sched.cpu_weight,
			       d[i].sched.cpu_cap_pct, d[i].sched.warp_us,
			       d[i].io.io_bps, d[i].io.io_iops,
			       d[i].mem.memory_max_mb);
	}
	free(d);
	return 0;
}

static int cmd_usage(const char *name)
{
	struct wire_domain *doms = NULL;
	size_t nd = 0;
	int rc = list_all(&doms, &nd);
	if (rc)
		return rc;
	domid_t only = DOMID_INVALID;
	if (name) {
		for (size_t i = 0; i < nd; i++)
			if (strcmp(doms[i].name, name) == 0)
				only = doms[i].domid;
		if (only == DOMID_INVALID) {
			free(doms);
			return fail("no domain named '%s'", name);
		}
	}
	if (json)
		printf("{\"boot_id\":%" PRIu64 ",\"domains\":[", boot_id);
	else
		printf("%6s %-20s %12s %12s %10s %9s %10s %10s %9s\n", "domid",
		       "name", "cpu_ms", "ready_ms", "dispatch", "wakeups",
		       "blk_r_ops", "blk_w_ops", "mem_pages");
	domid_t cursor = 0;
	size_t shown = 0;
	uint64_t mono = 0;
	do {
		struct wire_cmd c = {.op = WIRE_OP_GET_USAGE, .domid = only};
		c.u.cursor = only == DOMID_INVALID ? cursor : 0;
		int st = request(&c);
		if (st) {
			free(doms);
			return st > 0 ? st : refused("usage", st);
		}
		const struct wire_usage *u = &lk.msg.u.resp.u.usage;
		mono = u->mono_ns;
		for (uint32_t k = 0; k < u->count; k++) {
			const struct wire_usage_entry *e = &u->e[k];
			const char *nm = "?";
			for (size_t i = 0; i < nd; i++)
				if (doms[i].domid == e->domid)
					nm = doms[i].name;
			if (json) {
				printf("%s{\"domid\":%u,\"name\":\"%s\"",
				       shown ? "," : "", e->domid, nm);
				for (unsigned f = 0; f < USAGE_NFIELDS; f++)
					printf(",\"%s\":%" PRIu64,
					       usage_field_name(f),
					       usage_field_get(&e->c, f));
				printf("}");
			} else {
				printf("%6u %-20s %12.3f %12.3f %10" PRIu64
				       " %9" PRIu64 " %10" PRIu64 " %10" PRIu64
				       " %9" PRIu64 "\n",
				       e->domid, nm, e->c.cpu_ns / 1e6,
				       e->c.ready_ns / 1e6, e->c.dispatches,
				       e->c.wakeups, e->c.blk_read_ops,
				       e->c.blk_write_ops, e->c.mem_pages);
			}
			shown++;
		}
		cursor = u->next;
	} while (only == DOMID_INVALID && cursor != DOMID_INVALID);
	if (json)
		printf("],\"mono_ns\":%" PRIu64 "}\n", mono);
	free(doms);
	return 0;
}

static int parse_kv(struct kv_params *p, char **words, int n, unsigned groups,
                    const char **args)
{
	char err[160];
	for (int i = 0; i < n; i++) {
		if (args && strncmp(words[i], "args=", 5) == 0) {
			*args = words[i] + 5;
			continue;
		}
		if (kv_parse(p, words[i], groups, err, sizeof(err))) {
			fprintf(stderr, "hvctl: %s\n", err);
			return 2;
		}
	}
	return 0;
}

/* The SET command of group g (0 sched, 1 io, 2 mem): d's values, with p's
 * applied unless p is NULL (the values as they were). */
static struct wire_cmd set_cmd(const struct wire_domain *d,
                               const struct kv_params *p, int g)
{
	struct wire_cmd c = {.domid = d->domid};
	if (g == 0) {
		c.op = WIRE_OP_SET_SHARES;
		c.u.shares = d->sched;
		if (p)
			kv_apply_sched(p, &c.u.shares);
	} else if (g == 1) {
		c.op = WIRE_OP_SET_IO_LIMITS;
		c.u.io = d->io;
		if (p)
			kv_apply_io(p, &c.u.io);
	} else {
		c.op = WIRE_OP_SET_MEM_LIMITS;
		c.u.mem = d->mem;
		if (p)
			kv_apply_mem(p, &c.u.mem);
	}
	return c;
}

/*
 * One command per group of keys (shares, I/O, memory). All or nothing:
 * when the hypervisor refuses a group, the groups already set get back
 * the values d had (read just before), so a refused `set` leaves the
 * domain as it was; if even that fails, the message says what is left.
 */
static int set_domain(const struct wire_domain *d, const struct kv_params *p)
{
	static const unsigned group[3] = {KV_G_SCHED, KV_G_IO, KV_G_MEM};
	static const char *const what[3] = {"set shares", "set io limits",
	                                    "set memory limits"};
	int st = 0, g;
	for (g = 0; g < 3; g++) {
		if (!kv_has(p, group[g]))
			continue;
		struct wire_cmd c = set_cmd(d, p, g);
		if ((st = request(&c)))
			break;
	}
	if (!st)
		return 0;
	int failed_g = g, undo_st = 0;
	for (g = 0; g < failed_g && st < 0; g++) {
		if (!kv_has(p, group[g]))
			continue;
		struct wire_cmd c = set_cmd(d, NULL, g);
		int u = request(&c);
		if (u && !undo_st)
			undo_st = u;
	}
	if (st > 0)
		return st; /* the link failed: request() said so */
	if (undo_st)
		fail("%s refused, and restoring the groups already set "
		     "failed too: the domain may be partly changed",
		     what[failed_g]);
	return refused(what[failed_g], st);
}

static int cmd_set(const char *name, char **kv, int n)
{
	struct kv_params p = {0};
	int rc = parse_kv(&p, kv, n, KV_G_SCHED | KV_G_IO | KV_G_MEM, NULL);
	if (rc)
		return rc;
	if (!p.set) {
		fprintf(stderr, "hvctl: set needs at least one key=value\n");
		return 2;
	}
	struct wire_domain d;
	if ((rc = lookup(name, &d)))
		return rc;
	if ((rc = set_domain(&d, &p)))
		return rc;
	if (!json)
		printf("%s: set\n", name);
	else
		printf("{\"name\":\"%s\",\"status\":0}\n", name);
	return 0;
}

static int cmd_simple(const char *verb, uint16_t op, const char *name)
{
	struct wire_domain d;
	int rc = lookup(name, &d);
	if (rc)
		return rc;
	struct wire_cmd c = {.op = op, .domid = d.domid};
	int st = request(&c);
	if (st)
		return st > 0 ? st : refused(verb, st);
	if (json)
		printf("{\"name\":\"%s\",\"domid\":%u,\"status\":0}\n", name,
		       d.domid);
	else
		printf("%s: %s done\n", name, verb);
	return 0;
}

static int cmd_create(const char *image, const char *name, char **kv, int n)
{
	struct kv_params p = {0};
	const char *args = "";
	int rc = parse_kv(&p, kv, n,
	                  KV_G_SCHED | KV_G_IO | KV_G_MEM | KV_G_CREATE, &args);
	if (rc)
		return rc;
	if (!wire_name_valid(image) || !wire_name_valid(name)) {
		fprintf(stderr,
		        "hvctl: image and domain names are 1..%u "
		        "characters of [A-Za-z0-9_.-]\n",
		        WIRE_NAME_MAX);
		return 2;
	}
	if (strlen(args) > WIRE_ARGS_MAX) {
		fprintf(stderr, "hvctl: args longer than %u bytes\n",
		        WIRE_ARGS_MAX);
		return 2;
	}
	struct wire_cmd c = {.op = WIRE_OP_CREATE, .domid = DOMID_INVALID};
	struct wire_create *k = &c.u.create;
	snprintf(k->image, sizeof(k->image), "%s", image);
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->memory_mb = (p.set & (1u << KV_MEMORY_MB)) ? p.v[KV_MEMORY_MB] : 64;
	k->sched = (struct wire_sched_params){.cpu_weight = 256};
	kv_apply_sched(&p, &k->sched);
	kv_apply_io(&p, &k->io);
	k->args_len = (uint32_t)strlen(args);
	memcpy(k->args, args, k->args_len);
	int st = request(&c);
	if (st)
		return st > 0 ? st : refused("create", st);
	domid_t id = lk.msg.u.resp.u.created;
	if (kv_has(&p, KV_G_MEM)) {
		struct wire_domain d;
		if ((rc = lookup(name, &d)) || (rc = set_domain(&d, &p)))
			return rc;
	}
	if (json)
		printf("{\"name\":\"%s\",\"domid\":%u,\"status\":0}\n", name,
		       id);
	else
		printf("%s: created, domid %u\n", name, id);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *api = NULL, *key = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--link") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--api") == 0 && i + 1 < argc) {
			api = argv[++i];
		} else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
			key = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--timeout-ms") == 0 &&
		           i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 3600000) {
				fprintf(stderr, "hvctl: bad --timeout-ms\n");
				return 2;
			}
			timeout_ms = (int)v;
		} else if (strcmp(argv[i], "--help") == 0 ||
		           strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "hvctl: unexpected argument '%s'\n",
			        argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (api || key) {
		if (path || !api || !key) {
			fprintf(stderr, "hvctl: --api URL needs --key KEY and "
			                "excludes --link\n");
			return 2;
		}
		return rest_main(api, key, json, timeout_ms, argv[i],
		                 argc - i - 1, argv + i + 1);
	}
	if (!path) {
		fprintf(stderr,
		        "hvctl: --link PATH or --api URL is required\n");
		return 2;
	}
	const char *cmd = argv[i++];
	int rest = argc - i;
	char **av = argv + i;
	/* Check the shape of the command before connecting. */
	int need = -1; /* exact argument count, or -1 for "at least" */
	int least = 0;
	if (!strcmp(cmd, "list") || !strcmp(cmd, "shutdown"))
		need = 0;
	else if (!strcmp(cmd, "usage"))
		least = 0;
	else if (!strcmp(cmd, "pause") || !strcmp(cmd, "unpause") ||
	         !strcmp(cmd, "destroy"))
		need = 1;
	else if (!strcmp(cmd, "set"))
		least = 2;
	else if (!strcmp(cmd, "create"))
		least = 2;
	else {
		fprintf(stderr, "hvctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if ((need >= 0 && rest != need) || rest < least ||
	    (!strcmp(cmd, "usage") && rest > 1)) {
		fprintf(stderr, "hvctl: wrong number of arguments for %s\n",
		        cmd);
		usage(stderr);
		return 2;
	}
	int rc = connect_link(path);
	if (rc)
		return rc;
	if (!strcmp(cmd, "list"))
		rc = cmd_list();
	else if (!strcmp(cmd, "usage"))
		rc = cmd_usage(rest ? av[0] : NULL);
	else if (!strcmp(cmd, "set"))
		rc = cmd_set(av[0], av + 1, rest - 1);
	else if (!strcmp(cmd, "pause"))
		rc = cmd_simple("pause", WIRE_OP_PAUSE, av[0]);
	else if (!strcmp(cmd, "unpause"))
		rc = cmd_simple("unpause", WIRE_OP_UNPAUSE, av[0]);
	else if (!strcmp(cmd, "destroy"))
		rc = cmd_simple("destroy", WIRE_OP_DESTROY, av[0]);
	else if (!strcmp(cmd, "create"))
		rc = cmd_create(av[0], av[1], av + 2, rest - 2);
	else if (!strcmp(cmd, "shutdown")) {
		struct wire_cmd c = {.op = WIRE_OP_SHUTDOWN,
		                     .domid = DOMID_INVALID};
		int st = request(&c);
		rc = st > 0 ? st : st < 0 ? refused("shutdown", st) : 0;
		if (!rc)
			printf(json ? "{\"status\":0}\n" : "shutting down\n");
	}
	link_flush_wait(&lk, 1000);
	link_free(&lk);
	return rc;
}
