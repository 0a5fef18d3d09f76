/*
 * hvsim --serve-link: the simulated domains as the link sees them (domain
 * entries) and the commands a controller sends (CMD -> RESP). Every command
 * validates first and changes nothing when it refuses. See serve.c for the
 * record rules and docs/hvsim.md section 5 for the behaviour.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/tb.h"
#include "fs_errors.h"
#include "hypervisor/common/domcfg.h"
#include "serve_int.h"

/* ---- domains ------------------------------------------------------------- */

void domain_entry(const struct srv *s, size_t i, struct wire_domain *d)
{
	const struct scn_domain *sd = &s->sc->doms[i];
	*d = (struct wire_domain){
	    .domid = (domid_t)(i + 1),
	    .state = sim_paused(s->sim, i) ? WIRE_DOM_PAUSED : WIRE_DOM_RUNNING,
	    .memory_mb = s->dom[i].memory_mb,
	    .sched = {.cpu_weight = sd->sp.cpu_weight,
	              .cpu_cap_pct = sd->sp.cpu_cap_pct,
	              .warp_us = sd->sp.warp_us,
	              .warp_limit_us = sd->sp.warp_limit_us,
	              .unwarp_us = sd->sp.unwarp_us},
	    .io = s->dom[i].io,
	    .mem = s->dom[i].mem,
	};
	snprintf(d->name, sizeof(d->name), "%s", sd->name);
}

size_t live_count(const struct srv *s)
{
	size_t c = 0;
	for (size_t i = 0; i < sim_ndomains(s->sim); i++)
		c += sim_active(s->sim, i);
	return c;
}

/* Domain index of a live domid, or -1. */
long find(const struct srv *s, domid_t id)
{
	if (id == 0 || id == DOMID_INVALID || id > sim_ndomains(s->sim) ||
	    !sim_active(s->sim, id - 1))
		return -1;
	return (long)id - 1;
}

/* Build the scenario line of a CREATE and parse it, so that a created domain
 * is validated by exactly the rules of a scenario file. */
static int create_domain(struct srv *s, const struct wire_create *c,
                         domid_t *out)
{
	enum workload wl;
	if (strcmp(c->image, "cpu") == 0)
		wl = WL_CPU;
	else if (strcmp(c->image, "periodic") == 0)
		wl = WL_PERIODIC;
	else if (strcmp(c->image, "onoff") == 0)
		wl = WL_ONOFF;
	else if (strcmp(c->image, "io") == 0)
		wl = WL_IO;
	else
		return FS_ENOENT; /* no such image */
	for (size_t i = 0; i < sim_ndomains(s->sim); i++)
		if (sim_active(s->sim, i) &&
		    strcmp(s->sc->doms[i].name, c->name) == 0)
			return FS_EEXIST;
	if (c->memory_mb > DOMCFG_MEMORY_MB_MAX)
		return FS_ERANGE;
	const char *why;
	struct io_limits io = {c->io.io_bps, c->io.io_iops,
	                       c->io.io_burst_bytes, c->io.io_burst_ops};
	if (domcfg_io_check(&io, &why))
		return FS_ERANGE;
	if (sim_ndomains(s->sim) >= s->cap)
		return FS_ENOMEM;

	char line[2048];
	int n = snprintf(line, sizeof(line),
	                 "domain name=%s workload=%s cpu_weight=%u "
	                 "cpu_cap_pct=%u warp_us=%" PRIu64
	                 " warp_limit_us=%" PRIu64 " unwarp_us=%" PRIu64,
	                 c->name, c->image, c->sched.cpu_weight,
	                 c->sched.cpu_cap_pct, c->sched.warp_us,
	                 c->sched.warp_limit_us, c->sched.unwarp_us);
	if (wl == WL_IO)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
		              " io_bps=%" PRIu64 " io_iops=%" PRIu64
		              " io_burst_bytes=%" PRIu64
		              " io_burst_ops=%" PRIu64,
		              c->io.io_bps, c->io.io_iops, c->io.io_burst_bytes,
		              c->io.io_burst_ops);
	snprintf(line + n, sizeof(line) - (size_t)n, " %.*s\n",
	         (int)c->args_len, c->args);
	struct scenario one;
	char err[256];
	int rc = scenario_parse(line, "create", &one, err, sizeof(err));
	if (rc || one.n != 1) {
		say(s, "CREATE %s refused: %s", c->name, err);
		scenario_free(&one);
		return FS_EINVAL;
	}
	size_t i = s->sc->n;
	s->sc->doms[s->sc->n++] = one.doms[0]; /* room was reserved */
	scenario_free(&one);
	if (sim_add_domain(s->sim) != (int)i) {
		s->sc->n--;
		return FS_ENOMEM;
	}
	s->dom[i] = (struct sdom){.memory_mb = c->memory_mb, .io = c->io};
	sim_set_mem_pages(s->sim, i, c->memory_mb * PAGES_PER_MB);
	*out = (domid_t)(i + 1);
	event(s, i, WIRE_EV_CREATED, 0, 0);
	return FS_OK;
}

static int set_io(struct srv *s, size_t i, const struct wire_io_limits *w)
{
	const char *why;
	struct io_limits io = {w->io_bps, w->io_iops, w->io_burst_bytes,
	                       w->io_burst_ops};
	if (domcfg_io_check(&io, &why))
		return FS_ERANGE;
	struct scn_domain *sd = &s->sc->doms[i];
	if (sd->wl == WL_IO) {
		/* The scenario rules: a burst needs a rate, and something
		 * must bound a request's rate. */
		if ((w->io_burst_bytes && !w->io_bps) ||
		    (w->io_burst_ops && !w->io_iops) ||
		    (!w->io_bps && !w->io_iops && !sd->io.cpu_us &&
		     !sd->io.latency_us))
			return FS_EINVAL;
		struct scn_io old = sd->io;
		sd->io.bps = w->io_bps;
		sd->io.iops = w->io_iops;
		sd->io.burst_bytes = w->io_burst_bytes;
		sd->io.burst_ops = w->io_burst_ops;
		int rc = sim_io_reconfigure(s->sim, i);
		if (rc) {
			sd->io = old;
			return rc;
		}
	}
	s->dom[i].io = *w;
	return FS_OK;
}

static int set_mem(struct srv *s, size_t i, const struct wire_mem_limits *w)
{
	const char *why;
	struct mem_limits m = {w->memory_max_mb, w->mem_growth_pages_per_s,
	                       w->mem_growth_burst_pages};
	if (domcfg_mem_check(&m, &why))
		return FS_ERANGE;
	if (w->memory_max_mb && w->memory_max_mb < s->dom[i].memory_mb)
		return FS_ERANGE; /* below what the domain has now */
	s->dom[i].mem = *w;
	return FS_OK;
}

/* ---- commands ---------------------------------------------------------------
 */

static void cmd_list(struct srv *s, const struct wire_cmd *c,
                     struct wire_resp *r)
{
	struct wire_domain_list *l = &r->u.list;
	l->next = DOMID_INVALID;
	if (c->domid != DOMID_INVALID) {
		long i = find(s, c->domid);
		if (i < 0) {
			r->status = FS_ENOENT;
			return;
		}
		domain_entry(s, (size_t)i, &l->d[l->count++]);
		return;
	}
	for (size_t i = c->u.cursor ? c->u.cursor - 1 : 0;
	     i < sim_ndomains(s->sim); i++) {
		if (!sim_active(s->sim, i))
			continue;
		if (l->count == WIRE_MAX_BATCH) {
			l->next = (domid_t)(i + 1);
			break;
		}
		domain_entry(s, i, &l->d[l->count++]);
	}
}

static void cmd_usage(struct srv *s, const struct wire_cmd *c,
                      struct wire_resp *r)
{
	struct wire_usage *u = &r->u.usage;
	*u = (struct wire_usage){.boot_id = s->boot_id,
	                         .mono_ns = sim_now(s->sim),
	                         .next = DOMID_INVALID};
	if (c->domid == DOMID_HYPERVISOR) {
		/* The simulator charges nothing to the hypervisor. */
		u->e[u->count++] = (struct wire_usage_entry){.domid = 0};
		return;
	}
	if (c->domid != DOMID_INVALID) {
		long i = find(s, c->domid);
		if (i < 0) {
			r->status = FS_ENOENT;
			return;
		}
		u->e[u->count].domid = c->domid;
		sim_usage(s->sim, (size_t)i, &u->e[u->count++].c);
		return;
	}
	for (size_t i = c->u.cursor ? c->u.cursor - 1 : 0;
	     i < sim_ndomains(s->sim); i++) {
		if (!sim_active(s->sim, i))
			continue;
		if (u->count == WIRE_MAX_BATCH) {
			u->next = (domid_t)(i + 1);
			break;
		}
		u->e[u->count].domid = (domid_t)(i + 1);
		sim_usage(s->sim, i, &u->e[u->count++].c);
	}
}

void command(struct srv *s, const struct wire_cmd *c)
{
	static struct wire_msg m;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_RESP;
	struct wire_resp *r = &m.u.resp;
	r->request_id = c->request_id;
	r->op = c->op;
	s->cmds++;
	long i = -1;
	switch (c->op) {
	case WIRE_OP_SET_SHARES:
	case WIRE_OP_SET_IO_LIMITS:
	case WIRE_OP_SET_MEM_LIMITS:
	case WIRE_OP_PAUSE:
	case WIRE_OP_UNPAUSE:
	case WIRE_OP_DESTROY:
		i = find(s, c->domid);
		if (i < 0) {
			r->status = FS_ENOENT;
			goto out;
		}
		break;
	default:
		break;
	}
	switch (c->op) {
	case WIRE_OP_LIST_DOMAINS:
		cmd_list(s, c, r);
		break;
	case WIRE_OP_GET_USAGE:
		cmd_usage(s, c, r);
		break;
	case WIRE_OP_SET_SHARES: {
		struct sched_params p = {
		    .cpu_weight = c->u.shares.cpu_weight,
		    .cpu_cap_pct = c->u.shares.cpu_cap_pct,
		    .warp_us = c->u.shares.warp_us,
		    .warp_limit_us = c->u.shares.warp_limit_us,
		    .unwarp_us = c->u.shares.unwarp_us,
		};
		r->status = sim_set_params(s->sim, (size_t)i, &p);
		if (!r->status)
			s->sc->doms[i].sp = p;
		break;
	}
	case WIRE_OP_SET_IO_LIMITS:
		r->status = set_io(s, (size_t)i, &c->u.io);
		break;
	case WIRE_OP_SET_MEM_LIMITS:
		r->status = set_mem(s, (size_t)i, &c->u.mem);
		break;
	case WIRE_OP_PAUSE:
		r->status = sim_pause(s->sim, (size_t)i);
		if (!r->status)
			event(s, (size_t)i, WIRE_EV_PAUSED, 0, 0);
		break;
	case WIRE_OP_UNPAUSE:
		r->status = sim_unpause(s->sim, (size_t)i);
		if (!r->status)
			event(s, (size_t)i, WIRE_EV_UNPAUSED, 0, 0);
		break;
	case WIRE_OP_DESTROY:
		meter(s, i); /* rule 4 */
		sim_remove_domain(s->sim, (size_t)i);
		event(s, (size_t)i, WIRE_EV_DESTROYED, 0, 0);
		break;
	case WIRE_OP_CREATE:
		r->status = create_domain(s, &c->u.create, &r->u.created);
		break;
	case WIRE_OP_SHUTDOWN:
		s->stopping = true;
		break;
	default:
		r->status = FS_ENOSYS;
		break;
	}
out:
	if (r->status)
		s->cmd_errors++;
	queue_resp(s, &m);
}
