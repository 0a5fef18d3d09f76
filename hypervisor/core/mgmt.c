/*
 * The management link, hypervisor side (docs/management-protocol.md).
 *
 * Records. METER and EVENT frames are records: each is sealed once, with
 * its sequence number, into the replay log (a byte ring of replay_kb KiB)
 * and stays there until the controller acknowledges it. Sending is a
 * cursor over the log, so a slow or absent link never loses a record; it
 * only fills the log. When the log is full the oldest records are dropped
 * (counters are cumulative, so a dropped METER changes no total), counted,
 * logged, and announced to the controller: every HELLO carries the count
 * dropped since boot, and the sequence gap shows where
 * (docs/management-protocol.md, sections 5 and 7).
 *
 * Replies. A RESP goes through the same log, flagged transient, so it
 * leaves in sequence order behind the records numbered before it (a RESP
 * overtaking a queued METER would look like a lost frame to the
 * controller). A transient entry is sent once, never resent, and its drop
 * is no loss: the controller retries an unanswered command.
 *
 * Peers. QEMU gives COM2 as a UNIX socket; the hypervisor cannot see a peer
 * connect. A controller announces itself with HELLO; the hypervisor answers
 * with its own HELLO (boot id, TSC rate, first page of domains) and then
 * sends every record still in the log, those sent before flagged RESENT.
 * Until the first HELLO nothing is transmitted at all.
 *
 * Commands are carried out at once, in the hypervisor's own time, and
 * answered with a RESP; an invalid one changes nothing.
 *
 * Everything here runs in hv segments (after an interrupt), on one CPU with
 * interrupts off: no locking.
 */
#include "accounting/wire.h"
#include "core/lib.h"
#include "core/log.h"
#include "core/run.h"
#include "fs_errors.h"

#define ARENA_MAX (HVCFG_REPLAY_KB_MAX * 1024u)

struct rec {
	uint32_t len; /* frame bytes; 0: wrap to the start of the arena */
	uint32_t flags;
	uint64_t seq;
};

#define REC_TRANSIENT 1u /* a RESP: sent once, in order, never resent */

static uint8_t arena[ARENA_MAX] __attribute__((aligned(8)));
static uint32_t arena_size;
static uint32_t r_head, r_tail;  /* oldest record, where the next goes */
static uint32_t r_send;          /* next record to send */
static uint64_t r_bytes;         /* bytes in use */
static uint64_t seq_next = 1;    /* every frame we send takes one */
static uint64_t sent_max;        /* highest record seq ever sent */
static uint64_t dropped_records; /* since the last HELLO */
static uint64_t dropped_total;

static struct hv_timer meter_timer;
static uint64_t meter_ns;
static uint64_t boot_id;
static bool peer, started;

static struct wire_decoder dec;
static struct wire_msg msg_in, msg_out; /* msg_out: HELLO, METER, RESP */
static struct wire_msg msg_ev; /* EVENTs, raised in the middle of a CMD */
static uint8_t frame[WIRE_FRAME_MAX];

static uint32_t align8(uint32_t x)
{
	return (x + 7) & ~7u;
}

/* Whether a record header starts at pos: otherwise the writer wrapped
 * there (a zero-length marker, or no room left for a header). */
static bool rec_at(uint32_t pos)
{
	return arena_size - pos >= sizeof(struct rec) &&
	       ((struct rec *)(arena + pos))->len != 0;
}

/* Remove the oldest record: acknowledged, or dropped to make room. */
static void rec_pop(bool lost)
{
	if (!rec_at(r_head)) {
		if (r_send == r_head)
			r_send = 0;
		r_head = 0;
	}
	struct rec *h = (struct rec *)(arena + r_head);
	uint32_t sz = align8(sizeof(*h) + h->len);
	if (r_send == r_head)
		r_send = r_head + sz;
	r_head += sz;
	r_bytes -= sz;
	if (lost && !(h->flags & REC_TRANSIENT)) {
		dropped_records++;
		dropped_total++;
	}
	if (r_bytes == 0)
		r_head = r_tail = r_send = 0;
}

/* Room for `need` contiguous bytes at r_tail, dropping the oldest. Used
 * space is [head, tail), or [head, end) + [0, tail) once wrapped; tail
 * never catches up with head, so head == tail means empty. */
static void rec_make_room(uint32_t need)
{
	for (;;) {
		if (r_bytes == 0) {
			r_head = r_tail = r_send = 0;
			return;
		}
		if (r_tail > r_head) {
			if (arena_size - r_tail >= need)
				return;
			if (r_head > need) {
				if (arena_size - r_tail >= sizeof(struct rec))
					((struct rec *)(arena + r_tail))->len = 0;
				if (r_send == r_tail)
					r_send = 0;
				r_tail = 0;
				return;
			}
		} else if (r_head - r_tail > need) {
			return;
		}
		rec_pop(true);
	}
}

/* Seal m into the log: a record, or a transient reply (REC_TRANSIENT). */
static void rec_add(const struct wire_msg *m, uint32_t flags)
{
	int n = wire_encode(m, seq_next, 0, frame, sizeof(frame));
	if (n < 0) {
		log_err("mgmt: cannot encode a record (%d)", n);
		return;
	}
	uint32_t need = align8(sizeof(struct rec) + (uint32_t)n);
	if (need > arena_size / 2) {
		log_err("mgmt: a %d-byte record exceeds the replay log", n);
		return;
	}
	uint64_t before = dropped_total;
	rec_make_room(need);
	if (dropped_total != before)
		log_warn("mgmt: replay log full: dropped %llu oldest records "
		         "(%llu in all); counters are cumulative, totals stay "
		         "right",
		         (unsigned long long)(dropped_total - before),
		         (unsigned long long)dropped_total);
	struct rec *h = (struct rec *)(arena + r_tail);
	h->len = (uint32_t)n;
	h->flags = flags;
	h->seq = seq_next++;
	memcpy(h + 1, frame, (size_t)n);
	r_tail += need;
	r_bytes += need;
}

/* Send a HELLO now, ahead of the resends it announces: skipped without a
 * peer or room; the controller's retry or reconnect covers it. */
static void send_now(const struct wire_msg *m)
{
	if (!peer)
		return;
	int n = wire_encode(m, seq_next++, 0, frame, sizeof(frame));
	if (n < 0) {
		log_err("mgmt: cannot encode a reply (%d)", n);
		return;
	}
	if (!arch_link_write(frame, (size_t)n))
		log_warn("mgmt: transmit buffer full, a %d-byte HELLO dropped",
		         n);
}

/* Queue a RESP behind everything numbered before it. */
static void send_reply(const struct wire_msg *m)
{
	if (peer)
		rec_add(m, REC_TRANSIENT);
}

/* Push records from the send cursor while the transmitter has room. */
static void pump(void)
{
	while (peer && r_send != r_tail) {
		if (!rec_at(r_send)) {
			r_send = 0;
			continue;
		}
		struct rec *h = (struct rec *)(arena + r_send);
		if ((h->flags & REC_TRANSIENT) && h->seq <= sent_max) {
			r_send += align8(sizeof(*h) + h->len); /* sent once */
			continue;
		}
		if (arch_link_tx_free() < h->len)
			return;
		const uint8_t *f = (const uint8_t *)(h + 1);
		if (h->seq <= sent_max) {
			/* A resend: same seq, RESENT flag, sealed again. */
			memcpy(frame, f, h->len);
			wire_frame_seal(frame, sizeof(frame), f[4], f[5],
			                WIRE_F_RESENT, h->seq,
			                h->len - WIRE_HDR_SIZE - WIRE_TRAILER_SIZE);
			f = frame;
		}
		arch_link_write(f, h->len);
		if (h->seq > sent_max)
			sent_max = h->seq;
		r_send += align8(sizeof(*h) + h->len);
		if (r_send == r_tail)
			break;
	}
}

static uint8_t wire_state(const struct domain *d)
{
	if (d->state == DOM_EXITED)
		return WIRE_DOM_EXITED;
	if (d->state == DOM_KILLED)
		return WIRE_DOM_CRASHED;
	return d->paused ? WIRE_DOM_PAUSED : WIRE_DOM_RUNNING;
}

static void fill_domain(struct wire_domain *w, const struct domain *d)
{
	memset(w, 0, sizeof(*w));
	w->domid = d->id;
	w->state = wire_state(d);
	strlcpy_k(w->name, d->cfg.name, sizeof(w->name));
	w->memory_mb = d->cfg.memory_mb;
	w->sched.cpu_weight = d->cfg.sp.cpu_weight;
	w->sched.cpu_cap_pct = d->cfg.sp.cpu_cap_pct;
	w->sched.warp_us = d->cfg.sp.warp_us;
	w->sched.warp_limit_us = d->cfg.sp.warp_limit_us;
	w->sched.unwarp_us = d->cfg.sp.unwarp_us;
	w->io.io_bps = d->cfg.io.io_bps;
	w->io.io_iops = d->cfg.io.io_iops;
	w->io.io_burst_bytes = d->cfg.io.io_burst_bytes;
	w->io.io_burst_ops = d->cfg.io.io_burst_ops;
	w->mem.memory_max_mb = d->max_pages >> 8;
	w->mem.mem_growth_pages_per_s = d->cfg.mem.mem_growth_pages_per_s;
	w->mem.mem_growth_burst_pages = d->cfg.mem.mem_growth_burst_pages;
}

static void send_hello(void)
{
	struct wire_hello *h = &msg_out.u.hello;
	memset(&msg_out, 0, sizeof(msg_out));
	msg_out.type = WIRE_HELLO;
	h->role = WIRE_ROLE_HYPERVISOR;
	h->proto_min = h->proto_max = WIRE_VERSION;
	h->boot_id = boot_id;
	h->tsc_hz = arch_tsc_hz();
	h->mono_ns = run_wall_ns();
	h->total_domains = domain_slots();
	h->dropped = dropped_total > 0xffffffffu ? 0xffffffffu
	                                         : (uint32_t)dropped_total;
	for (uint32_t i = 0; i < domain_slots() && h->count < WIRE_MAX_BATCH;
	     i++)
		fill_domain(&h->d[h->count++], domain_at(i));
	send_now(&msg_out);
}

/* METER: every live domain, and each dead one once more after it died. */
static void meter(void)
{
	struct wire_usage *u = &msg_out.u.meter;
	ns_t now = run_wall_ns();
	uint32_t i = 0;
	while (i < domain_slots()) {
		memset(&msg_out, 0, sizeof(msg_out));
		msg_out.type = WIRE_METER;
		u->boot_id = boot_id;
		u->mono_ns = now;
		u->next = DOMID_INVALID;
		for (; i < domain_slots() && u->count < WIRE_MAX_BATCH; i++) {
			struct domain *d = domain_at(i);
			if (d->state != DOM_ALIVE) {
				if (d->final_metered)
					continue;
				d->final_metered = true;
			}
			u->e[u->count].domid = d->id;
			run_usage(d, &u->e[u->count].c);
			u->count++;
		}
		if (u->count)
			rec_add(&msg_out, 0);
	}
}

static void meter_fire(struct hv_timer *t)
{
	meter();
	run_timer_arm(t, t->at + meter_ns);
}

void mgmt_event(struct domain *d, uint16_t kind, uint16_t why,
                uint64_t detail)
{
	if (!started)
		return; /* boot-time domains are in the first HELLO */
	if (kind == WIRE_EV_DESTROYED && !d->final_metered) {
		/* Its final counters, before the controller hears it is
		 * gone: a bill closed at DESTROYED is complete. */
		memset(&msg_ev, 0, sizeof(msg_ev));
		msg_ev.type = WIRE_METER;
		struct wire_usage *u = &msg_ev.u.meter;
		u->boot_id = boot_id;
		u->mono_ns = run_wall_ns();
		u->next = DOMID_INVALID;
		u->count = 1;
		u->e[0].domid = d->id;
		run_usage(d, &u->e[0].c);
		d->final_metered = true;
		rec_add(&msg_ev, 0);
	}
	memset(&msg_ev, 0, sizeof(msg_ev));
	msg_ev.type = WIRE_EVENT;
	struct wire_event *e = &msg_ev.u.event;
	e->boot_id = boot_id;
	e->mono_ns = run_wall_ns();
	e->domid = d->id;
	e->kind = kind;
	e->why = why;
	e->detail = detail;
	strlcpy_k(e->name, d->cfg.name, sizeof(e->name));
	rec_add(&msg_ev, 0);
}

static struct domain *find_id(domid_t id)
{
	return id >= 1 && id <= domain_slots() ? domain_at(id - 1) : 0;
}

static int valid_name(const char *s)
{
	if (!s[0])
		return 0;
	for (const char *p = s; *p; p++)
		if (!domcfg_name_char(*p))
			return 0;
	return 1;
}

static int cmd_create(const struct wire_create *c, domid_t *out)
{
	if (!valid_name(c->name) || !valid_name(c->image))
		return FS_EINVAL; /* hypervisor names are [a-z0-9_-] */
	const struct boot_image *im = image_find(c->image, false);
	if (!im)
		return FS_ENOENT;
	if (c->memory_mb < DOMCFG_MEMORY_MB_MIN ||
	    c->memory_mb > DOMCFG_MEMORY_MB_MAX)
		return FS_ERANGE;
	if (c->sched.cpu_weight == 0)
		return FS_ERANGE;
	static struct domain_settings s;
	static char line[WIRE_ARGS_MAX + 128];
	const char *why;
	size_t off;
	/* args are module command-line tokens: domcfg keys (disk_mb=,
	 * memory_max_mb=, ...) and the guest's own as arg.K=V; the fixed
	 * fields of the command win over the same keys in args. */
	snprintf_k(line, sizeof(line), "name=%s image=%s memory_mb=%llu %s",
	           c->name, c->image, (unsigned long long)c->memory_mb,
	           c->args);
	domcfg_default(&s);
	if (domcfg_parse_cmdline(&s, line, &why, &off)) {
		log_warn("mgmt: CREATE %s: %s", c->name, why);
		return FS_EINVAL;
	}
	s.count = 1;
	s.sp = (struct sched_params){c->sched.cpu_weight, c->sched.cpu_cap_pct,
	                             c->sched.warp_us, c->sched.warp_limit_us,
	                             c->sched.unwarp_us};
	s.io = (struct io_limits){c->io.io_bps, c->io.io_iops,
	                          c->io.io_burst_bytes, c->io.io_burst_ops};
	if (domcfg_check(&s, &why)) {
		log_warn("mgmt: CREATE %s: %s", c->name, why);
		return FS_ERANGE;
	}
	char reason[160];
	struct domain *d = domain_create(&s, s.name, im->pa, im->len, reason,
	                                 sizeof(reason));
	if (!d) {
		log_warn("mgmt: CREATE %s refused: %s", c->name, reason);
		return reason[0] == 'a' ? FS_EEXIST /* "a domain named" */
		                        : FS_ENOMEM;
	}
	log_info("mgmt: created domain %u (%s) from %s", d->id, s.name,
	         s.image);
	*out = d->id;
	return FS_OK;
}

static void cmd(const struct wire_cmd *c)
{
	struct wire_resp *r = &msg_out.u.resp;
	memset(&msg_out, 0, sizeof(msg_out));
	msg_out.type = WIRE_RESP;
	r->request_id = c->request_id;
	r->op = c->op;
	struct domain *d = find_id(c->domid);
	int st = FS_OK;
	switch (c->op) {
	case WIRE_OP_LIST_DOMAINS:
	case WIRE_OP_GET_USAGE: {
		bool list = c->op == WIRE_OP_LIST_DOMAINS;
		uint32_t from = c->domid == DOMID_INVALID ? c->u.cursor : c->domid;
		if (c->domid != DOMID_INVALID && !d) {
			st = FS_ENOENT;
			break;
		}
		uint32_t i = from ? from - 1 : 0, n = 0;
		domid_t next = DOMID_INVALID;
		for (; i < domain_slots(); i++) {
			if (n == WIRE_MAX_BATCH) {
				next = i + 1;
				break;
			}
			struct domain *x = domain_at(i);
			if (list)
				fill_domain(&r->u.list.d[n], x);
			else {
				r->u.usage.e[n].domid = x->id;
				run_usage(x, &r->u.usage.e[n].c);
			}
			n++;
			if (c->domid != DOMID_INVALID)
				break;
		}
		if (list) {
			r->u.list.count = n;
			r->u.list.next = next;
		} else {
			r->u.usage.count = n;
			r->u.usage.next = next;
			r->u.usage.boot_id = boot_id;
			r->u.usage.mono_ns = run_wall_ns();
		}
		break;
	}
	case WIRE_OP_SET_SHARES: {
		if (!d) {
			st = FS_ENOENT;
			break;
		}
		struct sched_params sp = {
		    c->u.shares.cpu_weight, c->u.shares.cpu_cap_pct,
		    c->u.shares.warp_us, c->u.shares.warp_limit_us,
		    c->u.shares.unwarp_us};
		st = run_set_params(d, &sp);
		break;
	}
	case WIRE_OP_SET_IO_LIMITS: {
		const char *why;
		struct io_limits io = {c->u.io.io_bps, c->u.io.io_iops,
		                       c->u.io.io_burst_bytes,
		                       c->u.io.io_burst_ops};
		if (!d)
			st = FS_ENOENT;
		else if (d->state != DOM_ALIVE)
			st = FS_EBUSY;
		else if (domcfg_io_check(&io, &why))
			st = FS_ERANGE;
		else
			st = blk_set_limits(d, &io);
		break;
	}
	case WIRE_OP_SET_MEM_LIMITS: {
		struct mem_limits m = {c->u.mem.memory_max_mb,
		                       c->u.mem.mem_growth_pages_per_s,
		                       c->u.mem.mem_growth_burst_pages};
		if (!d)
			st = FS_ENOENT;
		else if (d->state != DOM_ALIVE)
			st = FS_EBUSY;
		else
			st = mem_set_limits(d, &m);
		break;
	}
	case WIRE_OP_PAUSE:
		st = !d ? FS_ENOENT : d->paused ? FS_EBUSY : run_pause(d);
		break;
	case WIRE_OP_UNPAUSE:
		st = !d ? FS_ENOENT : !d->paused ? FS_EBUSY : run_unpause(d);
		break;
	case WIRE_OP_DESTROY:
		if (!d)
			st = FS_ENOENT;
		else if (d->state != DOM_ALIVE)
			st = FS_EBUSY;
		else
			domain_kill(d, WIRE_WHY_KILL_ADMIN,
			            "destroyed by the controller");
		break;
	case WIRE_OP_CREATE:
		st = cmd_create(&c->u.create, &r->u.created);
		break;
	case WIRE_OP_SHUTDOWN:
		r->status = 0;
		send_reply(&msg_out);
		run_shutdown(); /* the final METER goes out first */
	default:
		st = FS_ENOSYS;
	}
	r->status = st;
	if (st)
		log_info("mgmt: command op %u on domain %u refused: %d", c->op,
		         c->domid, st);
	send_reply(&msg_out);
}

static void frame_in(const struct wire_frame *f)
{
	enum wire_reason why = wire_msg_decode(f, &msg_in);
	if (why != WIRE_OK) {
		log_warn("mgmt: frame seq %llu rejected: %s",
		         (unsigned long long)f->seq, wire_reason_name(why));
		/* An intact CMD with a bad field still gets its answer, so
		 * the controller is not left waiting: FS_ERANGE for a value
		 * out of range, FS_EPROTO for a wrong length. */
		uint16_t op = f->len >= 10 ? wire_get_le16(f->payload + 8) : 0;
		if (f->type == WIRE_CMD && op >= 1 && op <= WIRE_OP_MAX) {
			memset(&msg_out, 0, sizeof(msg_out));
			msg_out.type = WIRE_RESP;
			msg_out.u.resp.request_id = wire_get_le64(f->payload);
			msg_out.u.resp.op = op;
			msg_out.u.resp.status = why == WIRE_REJ_MSG_FIELD
			                            ? FS_ERANGE
			                            : FS_EPROTO;
			send_reply(&msg_out);
		}
		return;
	}
	switch (msg_in.type) {
	case WIRE_HELLO:
		if (msg_in.u.hello.role != WIRE_ROLE_CONTROLLER)
			break;
		peer = true;
		r_send = r_head; /* resend everything unacknowledged */
		log_info("mgmt: controller said HELLO; %llu records to resend%s",
		         (unsigned long long)r_bytes,
		         dropped_records ? ", some were dropped" : "");
		if (dropped_records)
			log_warn("mgmt: %llu records were dropped from the full "
			         "replay log since the last HELLO",
			         (unsigned long long)dropped_records);
		dropped_records = 0;
		send_hello();
		break;
	case WIRE_ACK:
		if (msg_in.u.ack.boot_id != boot_id)
			break;
		while (r_bytes) {
			uint32_t pos = rec_at(r_head) ? r_head : 0;
			const struct rec *h = (const struct rec *)(arena + pos);
			/* never released: what was not acknowledged, or
			 * never sent */
			if (h->seq > msg_in.u.ack.seq || h->seq > sent_max)
				break;
			rec_pop(false);
		}
		break;
	case WIRE_CMD:
		cmd(&msg_in.u.cmd);
		break;
	default:
		break; /* METER, RESP, EVENT are ours to send, not receive */
	}
}

void mgmt_poll(void)
{
	static uint8_t buf[512];
	size_t n;
	if (arch_link_present())
		arch_link_irq(); /* a poll as well: cheap, and never late */
	while ((n = arch_link_read(buf, sizeof(buf))) > 0) {
		log_debug("mgmt: %zu bytes in", n);
		size_t off = 0;
		while (off < n) {
			off += wire_decoder_feed(&dec, buf + off, n - off);
			struct wire_rx rx;
			while (wire_decoder_next(&dec, &rx) != WIRE_RX_NONE) {
				if (rx.kind == WIRE_RX_FRAME) {
					frame_in(&rx.frame);
				} else {
					log_warn("mgmt: %u bytes rejected: %s",
					         rx.bytes,
					         wire_reason_name(rx.reason));
				}
			}
		}
	}
	pump();
}

void mgmt_flush(void)
{
	if (!started)
		return;
	meter(); /* the final counters, equal to the end-of-run report */
	/* The transmitter drains under interrupts; at the end there are
	 * none, so drain it by polling (bounded: a wedged UART must not
	 * hang the end of the run). */
	for (long i = 0; i < 2000000; i++) {
		pump();
		if ((r_send == r_tail || !peer) &&
		    arch_link_tx_free() == ARCH_LINK_TX_SIZE)
			break;
		arch_link_irq();
	}
}

static uint64_t random_boot_id(void)
{
	/* The TSC at this point differs per boot on real hardware; under
	 * QEMU -icount it does not, so mix in RDRAND when the CPU has it. */
	uint64_t x = 0, lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	x = (hi << 32) | lo;
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
	                 : "a"(1), "c"(0));
	if (c & (1u << 30)) {
		uint64_t r;
		unsigned char ok;
		for (int i = 0; i < 10; i++) {
			__asm__ volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
			if (ok) {
				x ^= r;
				break;
			}
		}
	}
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x ? x : 1;
}

void mgmt_init(const struct hv_settings *hv)
{
	arena_size = hv->replay_kb * 1024u;
	meter_ns = (uint64_t)hv->meter_interval_ms * NS_PER_MS;
	boot_id = random_boot_id();
	wire_decoder_init(&dec);
	arch_link_init();
	log_info("mgmt: link %s, boot id %016llx, METER every %u ms, replay "
	         "log %u KiB",
	         arch_link_present() ? "on COM2" : "absent (no COM2)",
	         (unsigned long long)boot_id, hv->meter_interval_ms,
	         hv->replay_kb);
}

void mgmt_start(void)
{
	started = true;
	meter_timer.fn = meter_fire;
	run_timer_arm(&meter_timer, run_wall_ns() + meter_ns);
}
