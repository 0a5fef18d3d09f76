/*
 * billingd's link session; see session.h for the state machine and the
 * loss rule.
 */
#include "session.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_errors.h"
#include "log.h"

/* ---- u64 -> index map -------------------------------------------------------
 */

static void map_clear(struct u64map *m)
{
	if (m->keys)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->n = 0;
}

static void map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static size_t map_pos(const struct u64map *m, uint64_t key)
{
	uint64_t h = (key + 1) * 0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h >> 20) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != key + 1)
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* The index stored for key, or -1. */
static long map_get(const struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return -1;
	size_t i = map_pos(m, key);
	return m->keys[i] ? (long)m->vals[i] : -1;
}

static int map_put(struct u64map *m, uint64_t key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct u64map o = *m;
		m->cap = o.cap ? o.cap * 2 : 256;
		m->keys = calloc(m->cap, sizeof(*m->keys));
		m->vals = calloc(m->cap, sizeof(*m->vals));
		if (!m->keys || !m->vals) {
			free(m->keys);
			free(m->vals);
			*m = o;
			return -1;
		}
		m->n = 0;
		for (size_t i = 0; i < o.cap; i++)
			if (o.keys[i]) {
				size_t p = map_pos(m, o.keys[i] - 1);
				m->keys[p] = o.keys[i];
				m->vals[p] = o.vals[i];
				m->n++;
			}
		free(o.keys);
		free(o.vals);
	}
	size_t p = map_pos(m, key);
	if (!m->keys[p])
		m->n++;
	m->keys[p] = key + 1;
	m->vals[p] = val;
	return 0;
}

/* ---- life cycle ------------------------------------------------------------
 */

void session_init(struct session *s, const struct config *cfg, struct store *st,
                  struct link *l)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->st = st;
	s->l = l;
	s->next_req = 1;
}

void session_free(struct session *s)
{
	free(s->doms);
	free(s->pend);
	free(s->push);
	map_free(&s->by_domid);
	map_free(&s->by_domain);
}

void session_closed(struct session *s)
{
	if (s->hooks.closed)
		s->hooks.closed(s->hooks.ctx);
	s->doms_gen++;
	s->hello = s->listed = s->loss = false;
	s->suspect = s->past_resend = false;
	s->batch_max = 0;
	s->ndoms = s->npend = s->npush = 0;
	map_clear(&s->by_domid);
	map_clear(&s->by_domain);
}

void session_connected(struct session *s)
{
	session_closed(s);
	s->connected_ns = link_now_ns();
	s->hello_tries = 0;
	session_say_hello(s);
}

void session_say_hello(struct session *s)
{
	s->awaiting_hello = true;
	s->hello_sent_ns = link_now_ns();
	s->hello_tries++;
	struct wire_msg m = {.type = WIRE_HELLO};
	m.u.hello = (struct wire_hello){.role = WIRE_ROLE_CONTROLLER,
	                                .proto_min = 1,
	                                .proto_max = 1,
	                                .mono_ns = link_now_ns()};
	link_send(s->l, &m, 0, 0);
}

/* ---- commands
 * ---------------------------------------------------------------- */

static struct pending_cmd *send_cmd(struct session *s, struct wire_cmd *c)
{
	if (s->npend == s->cappend) {
		size_t nc = s->cappend ? s->cappend * 2 : 64;
		struct pending_cmd *np = realloc(s->pend, nc * sizeof(*np));
		if (!np)
			return NULL;
		s->pend = np;
		s->cappend = nc;
	}
	c->request_id = s->next_req++;
	struct wire_msg m = {.type = WIRE_CMD};
	m.u.cmd = *c;
	if (link_send(s->l, &m, 0, 0) < 0)
		return NULL;
	struct pending_cmd *p = &s->pend[s->npend++];
	*p = (struct pending_cmd){.req = c->request_id,
	                          .op = c->op,
	                          .domid = c->domid,
	                          .tag = 0,
	                          .sent_ns = link_now_ns()};
	return p;
}

int session_command(struct session *s, struct wire_cmd *c, uint64_t tag)
{
	struct pending_cmd *p = send_cmd(s, c);
	if (!p)
		return -1;
	p->tag = tag;
	return 0;
}

bool session_ready(const struct session *s)
{
	return s->l->fd >= 0 && s->hello && s->listed;
}

static void list_page(struct session *s, domid_t cursor)
{
	struct wire_cmd c = {.op = WIRE_OP_LIST_DOMAINS,
	                     .domid = DOMID_INVALID};
	c.u.cursor = cursor;
	send_cmd(s, &c);
}

static void list_one(struct session *s, domid_t domid)
{
	struct wire_cmd c = {.op = WIRE_OP_LIST_DOMAINS, .domid = domid};
	send_cmd(s, &c);
}

/* ---- domains on the link
 * ------------------------------------------------------ */

static int dom_add(struct session *s, const struct wire_domain *d)
{
	s->doms_gen++;
	long i = map_get(&s->by_domid, d->domid);
	if (i >= 0) {
		s->doms[i] = *d;
	} else {
		if (s->ndoms == s->capdoms) {
			size_t nc = s->capdoms ? s->capdoms * 2 : 256;
			struct wire_domain *nd =
			    realloc(s->doms, nc * sizeof(*nd));
			if (!nd)
				return -1;
			s->doms = nd;
			s->capdoms = nc;
		}
		s->doms[s->ndoms] = *d;
		if (map_put(&s->by_domid, d->domid, (uint32_t)s->ndoms))
			return -1;
		s->ndoms++;
	}
	return store_domain_seen(s->st, s->boot_ref, d->domid, d->name);
}

static void dom_remove(struct session *s, domid_t domid)
{
	long i = map_get(&s->by_domid, domid);
	if (i >= 0)
		s->doms[i].domid = DOMID_INVALID; /* a tombstone */
	s->doms_gen++;
}

/* A state change the hypervisor reported (an EVENT or a RESP). */
static void dom_state(struct session *s, domid_t domid, uint8_t state)
{
	long i = map_get(&s->by_domid, domid);
	if (i >= 0 && s->doms[i].domid == domid) {
		s->doms[i].state = state;
		s->doms_gen++;
	}
}

const struct wire_domain *session_domain(const struct session *s,
                                         const char *name)
{
	for (size_t i = 0; i < s->ndoms; i++)
		if (s->doms[i].domid != DOMID_INVALID &&
		    strcmp(s->doms[i].name, name) == 0)
			return &s->doms[i];
	return NULL;
}

/* ---- desired state
 * ------------------------------------------------------------ */

static struct push_state *push_get(struct session *s, int64_t domain)
{
	long i = map_get(&s->by_domain, (uint64_t)domain);
	if (i >= 0)
		return &s->push[i];
	if (s->npush == s->cappush) {
		size_t nc = s->cappush ? s->cappush * 2 : 64;
		struct push_state *np = realloc(s->push, nc * sizeof(*np));
		if (!np)
			return NULL;
		s->push = np;
		s->cappush = nc;
	}
	if (map_put(&s->by_domain, (uint64_t)domain, (uint32_t)s->npush))
		return NULL;
	s->push[s->npush] = (struct push_state){.domain = domain};
	return &s->push[s->npush++];
}

static void push_one(struct session *s, const struct desired_row *r,
                     const struct wire_domain *d)
{
	struct push_state *ps = push_get(s, r->domain);
	if (!ps || (ps->generation == r->generation && !ps->outstanding) ||
	    ps->outstanding)
		return;
	ps->generation = r->generation;
	ps->status = 0;
	struct wire_cmd c[3];
	int n = 0;
	if (kv_has(&r->p, KV_G_SCHED)) {
		c[n] = (struct wire_cmd){.op = WIRE_OP_SET_SHARES,
		                         .domid = d->domid};
		c[n].u.shares = d->sched;
		kv_apply_sched(&r->p, &c[n++].u.shares);
	}
	if (kv_has(&r->p, KV_G_IO)) {
		c[n] = (struct wire_cmd){.op = WIRE_OP_SET_IO_LIMITS,
		                         .domid = d->domid};
		c[n].u.io = d->io;
		kv_apply_io(&r->p, &c[n++].u.io);
	}
	if (kv_has(&r->p, KV_G_MEM)) {
		c[n] = (struct wire_cmd){.op = WIRE_OP_SET_MEM_LIMITS,
		                         .domid = d->domid};
		c[n].u.mem = d->mem;
		kv_apply_mem(&r->p, &c[n++].u.mem);
	}
	for (int i = 0; i < n; i++) {
		struct pending_cmd *p = send_cmd(s, &c[i]);
		if (!p)
			continue;
		p->domain = r->domain;
		p->generation = r->generation;
		ps->outstanding++;
	}
	if (n) {
		s->pushes++;
		blog(LOG_DEBUG,
		     "pushing desired state of %s (generation "
		     "%lld) to domid %u",
		     r->name, (long long)r->generation, d->domid);
	}
}

int session_push_desired(struct session *s)
{
	s->repush = false;
	if (!s->listed)
		return 0;
	struct desired_row *rows;
	size_t n;
	if (desired_load(s->st, &rows, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct wire_domain *d = session_domain(s, rows[i].name);
		if (d)
			push_one(s, &rows[i], d);
	}
	free(rows);
	return 0;
}

bool session_desired_changed(struct session *s)
{
	sqlite3_stmt *q;
	uint64_t v = 0;
	if (sqlite3_prepare_v2(store_db(s->st), "PRAGMA data_version", -1, &q,
	                       NULL))
		return false;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	bool changed = v != s->data_version;
	s->data_version = v;
	return changed;
}

/* ---- messages
 * --------------------------------------------------------------------- */

static int on_hello(struct session *s, const struct wire_hello *h, uint64_t seq)
{
	if (h->role != WIRE_ROLE_HYPERVISOR)
		return 0;
	if (h->proto_min > 1) {
		blog(LOG_ERROR,
		     "the hypervisor speaks protocol versions "
		     "%u..%u only; this billingd speaks 1",
		     h->proto_min, h->proto_max);
		s->loss = true; /* reconnect later */
		s->loss_ns = link_now_ns();
		return 0;
	}
	bool is_new;
	if (store_boot(s->st, h->boot_id, h->tsc_hz, h->mono_ns, &s->boot_ref,
	               &is_new))
		return -1;
	if (h->boot_id != s->boot_id)
		blog(LOG_INFO,
		     "hypervisor boot %016" PRIx64 " (%s), %u domains",
		     h->boot_id, is_new ? "new" : "known", h->total_domains);
	if (h->boot_id != s->boot_id) {
		/* sequence numbers are per boot */
		s->ack_point = s->acked = s->max_record = 0;
		s->boot_id = h->boot_id;
		s->hv_dropped = 0;
	}
	if (h->dropped > s->hv_dropped)
		blog(LOG_WARN,
		     "the hypervisor dropped %" PRIu64 " records from its full "
		     "replay log (%u this boot): counters are cumulative, so "
		     "totals stay right; only the detail of that span is lost "
		     "(raise replay_kb to cover longer outages)",
		     h->dropped - s->hv_dropped, h->dropped);
	s->hv_dropped = h->dropped;
	/* The answer to a resync HELLO on a working connection: only the
	 * sequence bookkeeping starts over (the resend follows). */
	bool resync = s->hello && s->listed && h->boot_id == s->boot_id;
	s->hello = true;
	s->awaiting_hello = false;
	s->hello_tries = 0;
	s->hello_seq = seq;
	s->next_seq = seq + 1;
	s->loss = s->suspect = s->past_resend = false;
	if (resync)
		return 0;
	s->listed = false;
	s->ndoms = s->npush = 0;
	map_clear(&s->by_domid);
	map_clear(&s->by_domain);
	for (uint32_t i = 0; i < h->count; i++)
		if (dom_add(s, &h->d[i]))
			return -1;
	if (h->total_domains > h->count) {
		list_page(s, 0);
	} else {
		s->listed = true;
		return session_push_desired(s);
	}
	return 0;
}

static int on_resp(struct session *s, const struct wire_resp *r)
{
	size_t i;
	for (i = 0; i < s->npend && s->pend[i].req != r->request_id; i++)
		;
	if (i == s->npend)
		return 0; /* late answer to a command we gave up on */
	struct pending_cmd p = s->pend[i];
	s->pend[i] = s->pend[--s->npend];
	if (p.tag) {
		if (!r->status && p.op == WIRE_OP_PAUSE)
			dom_state(s, p.domid, WIRE_DOM_PAUSED);
		if (!r->status && p.op == WIRE_OP_UNPAUSE)
			dom_state(s, p.domid, WIRE_DOM_RUNNING);
		if (s->hooks.resp)
			s->hooks.resp(s->hooks.ctx, p.tag, r);
		return 0;
	}
	switch (p.op) {
	case WIRE_OP_LIST_DOMAINS:
		if (r->status) {
			/* One domain: it went meanwhile (an old CREATED). */
			blog(p.domid == DOMID_INVALID ? LOG_WARN : LOG_DEBUG,
			     "LIST_DOMAINS refused: %s",
			     link_err_name(r->status));
			return 0;
		}
		for (uint32_t k = 0; k < r->u.list.count; k++)
			if (dom_add(s, &r->u.list.d[k]))
				return -1;
		if (p.domid != DOMID_INVALID) {
			if (s->listed) /* a domain created while up */
				return session_push_desired(s);
			return 0;
		}
		if (r->u.list.next != DOMID_INVALID) {
			list_page(s, r->u.list.next);
			return 0;
		}
		s->listed = true;
		return session_push_desired(s);
	case WIRE_OP_SET_SHARES:
	case WIRE_OP_SET_IO_LIMITS:
	case WIRE_OP_SET_MEM_LIMITS: {
		struct push_state *ps = push_get(s, p.domain);
		if (!ps)
			return -1;
		if (ps->outstanding)
			ps->outstanding--;
		if (r->status && !ps->status) {
			ps->status = r->status;
			s->push_refused++;
			blog(LOG_WARN,
			     "the hypervisor refused desired state for "
			     "domid %u: %s (%s)",
			     p.domid, link_err_name(r->status),
			     link_err_text(r->status));
		}
		if (!ps->outstanding) {
			if (desired_mark(s->st, p.domain, p.generation,
			                 s->boot_id, ps->status))
				return -1;
			if (s->hooks.pushed)
				s->hooks.pushed(s->hooks.ctx, p.domain,
				                p.generation, ps->status);
			/* Read the entry back, so what the REST API shows
			 * as live is the hypervisor's word. */
			if (!ps->status)
				list_one(s, p.domid);
			/* The desired state may have changed meanwhile. */
			s->repush = true;
		}
		return 0;
	}
	default:
		return 0;
	}
}

static int on_event(struct session *s, const struct wire_event *e, uint64_t seq)
{
	if (store_event(s->st, s->boot_ref, seq, e))
		return -1;
	switch (e->kind) {
	case WIRE_EV_CREATED: {
		/* The name now; the full entry (for desired-state pushes)
		 * with a LIST of that domain. */
		if (store_domain_seen(s->st, s->boot_ref, e->domid, e->name))
			return -1;
		if (s->listed && map_get(&s->by_domid, e->domid) < 0)
			list_one(s, e->domid); /* (while listing: the pages
			                        * will include it) */
		break;
	}
	case WIRE_EV_DESTROYED:
		dom_remove(s, e->domid);
		break;
	default:
		break;
	}
	/* A resent record (numbered up to the HELLO) is older than the
	 * HELLO's domain list: its state is stale. */
	if (seq <= s->hello_seq)
		return 0;
	switch (e->kind) {
	case WIRE_EV_PAUSED:
		dom_state(s, e->domid, WIRE_DOM_PAUSED);
		break;
	case WIRE_EV_UNPAUSED:
		dom_state(s, e->domid, WIRE_DOM_RUNNING);
		break;
	case WIRE_EV_EXITED:
		dom_state(s, e->domid, WIRE_DOM_EXITED);
		break;
	case WIRE_EV_CRASHED:
	case WIRE_EV_KILLED:
		dom_state(s, e->domid, WIRE_DOM_CRASHED);
		break;
	default:
		break;
	}
	return 0;
}

/* Sequence bookkeeping of one frame from the hypervisor (the loss rule). */
static void lose(struct session *s, const char *why)
{
	if (s->loss)
		return;
	blog(LOG_WARN, "%s; will resync", why);
	s->loss = true;
	s->suspect = false;
	s->loss_ns = link_now_ns();
	s->losses++;
}

/* Sequence bookkeeping of one good frame from the hypervisor (the loss
 * rule, session.h). */
static void seen_seq(struct session *s, uint64_t seq)
{
	if (!s->hello || seq <= s->hello_seq)
		return; /* before the HELLO, the HELLO, or a resend */
	s->past_resend = true;
	if (seq != s->next_seq) {
		char why[96];
		snprintf(why, sizeof(why),
		         "sequence gap: expected %" PRIu64 ", got %" PRIu64,
		         s->next_seq, seq);
		s->gaps++;
		lose(s, why);
	} else {
		s->suspect = false; /* the damaged bytes held no frame */
	}
	if (seq >= s->next_seq)
		s->next_seq = seq + 1;
}

int session_event(struct session *s, const struct link_event *ev)
{
	if (ev->kind == LINK_EV_REJECT) {
		blog(LOG_DEBUG, "rejected %u bytes: %s (seq %" PRIu64 ")",
		     ev->bytes, wire_reason_name(ev->reason), ev->seq);
		/* Before the hypervisor's HELLO nothing is stored or
		 * acknowledged, and the HELLO brings a resend of every
		 * record: a reject there (the tail of a frame the hypervisor
		 * was sending when we connected) loses nothing; a lost HELLO
		 * is covered by hello_timeout_ms. Among resends (numbered
		 * with gaps) a damaged frame cannot be told from a gap: a
		 * loss. Among new frames the next good frame's number tells:
		 * until it comes, the reject is only suspect. */
		if (!s->hello || s->loss)
			return 0;
		if (!s->past_resend) {
			char why[96];
			snprintf(why, sizeof(why),
			         "frame rejected among resends (%s, %u bytes)",
			         wire_reason_name(ev->reason), ev->bytes);
			lose(s, why);
		} else if (!s->suspect) {
			s->suspect = true;
			s->suspect_ns = link_now_ns();
		}
		return 0;
	}
	const struct wire_msg *m = &s->l->msg;
	if (m->type == WIRE_HELLO)
		return on_hello(s, &m->u.hello, ev->seq);
	seen_seq(s, ev->seq);
	if (!s->hello)
		return 0; /* nothing is stored before the hypervisor's HELLO */
	switch (m->type) {
	case WIRE_METER:
		if (m->u.meter.boot_id != s->boot_id) {
			s->foreign++;
			return 0;
		}
		if (store_meter(s->st, s->boot_ref, &m->u.meter))
			return -1;
		break;
	case WIRE_EVENT:
		if (m->u.event.boot_id != s->boot_id) {
			s->foreign++;
			return 0;
		}
		if (on_event(s, &m->u.event, ev->seq))
			return -1;
		break;
	case WIRE_RESP:
		return on_resp(s, &m->u.resp);
	default:
		return 0; /* ACK and CMD are not for us */
	}
	s->records++;
	if (ev->seq > s->max_record)
		s->max_record = ev->seq;
	if (!s->loss && !s->suspect && ev->seq > s->batch_max)
		s->batch_max = ev->seq;
	return 0;
}

int session_save_stats(struct session *s)
{
	const struct link_stats *ls = &s->l->st;
	const struct store_counts *c = store_counts(s->st);
	struct {
		const char *n;
		uint64_t v;
	} v[] = {
	    {"link_connects", ls->connects},
	    {"link_bytes_in", ls->bytes_in},
	    {"link_frames_in", ls->frames_in},
	    {"link_rejected_bytes", ls->rejected_bytes},
	    {"link_rejects", link_rejects_total(ls)},
	    {"link_gaps", s->gaps},
	    {"link_losses", s->losses},
	    {"acks_sent", s->acks_sent},
	    {"samples_new", c->samples_new},
	    {"samples_dup", c->samples_dup},
	    {"samples_stale", c->samples_stale},
	    {"events_new", c->events_new},
	    /* what this batch's commit lets us acknowledge */
	    {"acked_seq",
	     s->batch_max > s->ack_point ? s->batch_max : s->ack_point},
	    {"max_record_seq", s->max_record},
	    {"hv_replay_dropped", s->hv_dropped},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (store_stat(s->st, v[i].n, v[i].v))
			return -1;
	for (unsigned k = 1; k < WIRE_REJ_COUNT; k++) {
		char name[64];
		snprintf(name, sizeof(name), "reject_%s",
		         wire_reason_name((enum wire_reason)k));
		if (store_stat(s->st, name, ls->rejects[k]))
			return -1;
	}
	return 0;
}

int session_end_batch(struct session *s)
{
	if (store_in_tx(s->st)) {
		if (session_save_stats(s) || store_commit(s->st)) {
			blog(LOG_ERROR,
			     "commit failed: %s; nothing of the "
			     "batch is acknowledged",
			     store_errmsg(s->st));
			store_rollback(s->st);
			s->batch_max = 0;
			s->loss = true; /* resync: get it all again */
			s->loss_ns = link_now_ns();
			return -1;
		}
	}
	if (s->batch_max > s->ack_point)
		s->ack_point = s->batch_max;
	s->batch_max = 0;
	if (s->hello && s->ack_point > s->acked && s->l->fd >= 0) {
		struct wire_msg m = {.type = WIRE_ACK};
		m.u.ack = (struct wire_ack){.boot_id = s->boot_id,
		                            .seq = s->ack_point};
		if (link_send(s->l, &m, 0, 0) > 0) {
			s->acked = s->ack_point;
			s->acks_sent++;
		}
	}
	return 0;
}

void session_tick(struct session *s, uint64_t now)
{
	uint64_t limit = s->cfg->cmd_timeout_ms * NS_PER_MS;
	for (size_t i = 0; i < s->npend;) {
		struct pending_cmd p = s->pend[i];
		if (p.sent_ns + limit > now) {
			i++;
			continue;
		}
		s->pend[i] = s->pend[--s->npend];
		if (p.tag) {
			/* The REST caller has its own (shorter) deadline
			 * and answered already. */
			blog(LOG_WARN, "command %" PRIu64 " (op %u) unanswered",
			     p.req, p.op);
			continue;
		}
		blog(LOG_WARN,
		     "command %" PRIu64 " (op %u) unanswered; retrying", p.req,
		     p.op);
		if (p.op == WIRE_OP_LIST_DOMAINS) {
			if (p.domid == DOMID_INVALID)
				list_page(s, 0);
			else
				list_one(s, p.domid);
		} else if (p.domain) {
			struct push_state *ps = push_get(s, p.domain);
			if (ps) {
				ps->generation = 0; /* push again */
				ps->outstanding = 0;
			}
		}
	}
}

void session_format_stats(const struct session *s, char *buf, size_t len)
{
	char rej[512];
	const struct store_counts *c = store_counts(s->st);
	link_rejects_format(&s->l->st, rej, sizeof(rej));
	snprintf(buf, len,
	         "connects=%" PRIu64 " frames=%" PRIu64 " records=%" PRIu64
	         " samples=%" PRIu64 " dup=%" PRIu64 " stale=%" PRIu64
	         " deltas=%" PRIu64 " events=%" PRIu64 " acks=%" PRIu64
	         " acked_seq=%" PRIu64 " gaps=%" PRIu64 " losses=%" PRIu64
	         " rejects: %s",
	         s->l->st.connects, s->l->st.frames_in, s->records,
	         c->samples_new, c->samples_dup, c->samples_stale, c->deltas,
	         c->events_new, s->acks_sent, s->acked, s->gaps, s->losses,
	         rej);
}
