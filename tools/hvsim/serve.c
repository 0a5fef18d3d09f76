/*
 * hvsim --serve-link: the hypervisor's side of the management link, played
 * by the simulator. See serve.h; docs/hvsim.md section 5 for the options.
 *
 * One loop, driven by poll(): advance the simulated clock to where the wall
 * clock (times speed) says it should be, stopping at every metering instant
 * to send a METER round; then wait for the socket (a peer connecting, bytes
 * in, room to write) or the next metering instant, whichever is first.
 *
 * Sending follows the protocol's record rules (docs/management-protocol.md
 * section 5) exactly as the hypervisor must:
 *   1. One sequence counter for the whole boot: HELLO, records and RESPs
 *      all take the next number; it never restarts on reconnect.
 *   2. Every record (METER, EVENT) goes into the replay buffer first and
 *      is sent from there by the send cursor; RESPs wait in their own
 *      queue for the records numbered before them, so frames go out in
 *      sequence order. After each HELLO from the controller (like the
 *      UART, hvsim does not count a connect as a peer: management-
 *      protocol.md section 7) our HELLO goes out and the cursor restarts
 *      at the oldest unacknowledged record; records older than that HELLO
 *      are sent with the RESENT flag. The cursor only sends while the
 *      socket's output queue is short, so a large replay does not fill
 *      memory twice.
 *   3. ACK(boot, seq) frees the records up to seq; another boot's ACK is
 *      ignored.
 *   4. Before a domain disappears (DESTROY, SHUTDOWN, end of the run) its
 *      final counters go out in a METER, so no usage between the last
 *      metering instant and the end is ever lost.
 *
 * Domain i of the scenario is domid i + 1; domids are not reused within a
 * boot. Images are the workload names (cpu, periodic, onoff, io) and a
 * CREATE's args are the workload's scenario keys ("period_us=10000
 * burst_us=800").
 */
#include "serve_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_errors.h"
#include "sim.h"
#include "tools/link/link.h"
#include "tools/link/replay.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

void say(const struct srv *s, const char *fmt, ...)
{
	if (s->o->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hvsim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- records: replay buffer and send cursor -------------------------------
 */

/* First slot with seq >= seq (binary search; seqs increase). */
static size_t ring_find(const struct replay *rp, uint64_t seq)
{
	size_t lo = 0, hi = rp->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (replay_at(rp, mid)->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Send records from the cursor while the output queue is short. */
void pump(struct srv *s)
{
	if (s->l->fd < 0)
		return;
	size_t k = ring_find(&s->rp, s->cursor);
	while (link_tx_pending(s->l) < TX_LOW_WATER) {
		const struct replay_rec *r =
		    k < s->rp.n ? replay_at(&s->rp, k) : NULL;
		const struct replay_rec *q =
		    s->nresp ? &s->resp[s->resp_head] : NULL;
		if (q && (!r || q->seq < r->seq)) {
			/* RESPs wait for the records numbered before them:
			 * frames go out in sequence order (rule 1). */
			link_send_frame(s->l, q->frame, q->len, false);
			free(q->frame);
			s->resp_head++;
			if (--s->nresp == 0)
				s->resp_head = 0;
			continue;
		}
		if (!r)
			break;
		s->cursor = r->seq + 1;
		k++;
		if (r->frame)
			link_send_frame(s->l, r->frame, r->len,
			                r->seq < s->hello_seq);
	}
}

void queue_resp(struct srv *s, const struct wire_msg *m)
{
	uint8_t buf[WIRE_FRAME_MAX];
	int n = wire_encode(m, ++s->seq, 0, buf, sizeof(buf));
	if (n < 0 || s->l->fd < 0)
		return;
	if (s->resp_head + s->nresp == s->capresp) {
		if (s->resp_head) { /* slide down first */
			memmove(s->resp, s->resp + s->resp_head,
			        s->nresp * sizeof(*s->resp));
			s->resp_head = 0;
		} else {
			size_t nc = s->capresp ? s->capresp * 2 : 64;
			struct replay_rec *nr =
			    realloc(s->resp, nc * sizeof(*nr));
			if (!nr)
				return;
			s->resp = nr;
			s->capresp = nc;
		}
	}
	uint8_t *copy = malloc((size_t)n);
	if (!copy)
		return;
	memcpy(copy, buf, (size_t)n);
	s->resp[s->resp_head + s->nresp++] =
	    (struct replay_rec){.seq = s->seq,
	                        .type = WIRE_RESP,
	                        .len = (uint32_t)n,
	                        .frame = copy};
	pump(s);
}

/* Answers to a controller that has gone are not resent. */
static void drop_resps(struct srv *s)
{
	for (size_t i = 0; i < s->nresp; i++)
		free(s->resp[s->resp_head + i].frame);
	s->nresp = s->resp_head = 0;
}

/* A new record: into the replay buffer, then out through the cursor. */
static void record(struct srv *s, const struct wire_msg *m)
{
	uint8_t buf[WIRE_FRAME_MAX];
	uint64_t seq = ++s->seq;
	int n = wire_encode(m, seq, 0, buf, sizeof(buf));
	if (n < 0) {
		say(s, "BUG: cannot encode a record (%d)", n);
		return;
	}
	uint64_t dropped = s->rp.dropped_meters + s->rp.dropped_events;
	replay_add(&s->rp, buf, (size_t)n, seq, m->type);
	if (s->rp.dropped_meters + s->rp.dropped_events != dropped)
		say(s,
		    "replay buffer full: %" PRIu64 " METER and %" PRIu64
		    " EVENT records dropped so far (oldest METERs first)",
		    s->rp.dropped_meters, s->rp.dropped_events);
	if (m->type == WIRE_METER) {
		s->meter_frames++;
		s->meter_bytes += (uint64_t)n;
	} else {
		s->events++;
	}
	pump(s);
}

void event(struct srv *s, size_t i, uint16_t kind, uint16_t why,
           uint64_t detail)
{
	struct wire_msg m = {.type = WIRE_EVENT};
	m.u.event = (struct wire_event){
	    .boot_id = s->boot_id,
	    .mono_ns = sim_now(s->sim),
	    .domid = (domid_t)(i + 1),
	    .kind = kind,
	    .why = why,
	    .detail = detail,
	};
	snprintf(m.u.event.name, sizeof(m.u.event.name), "%s",
	         s->sc->doms[i].name);
	record(s, &m);
}

static void lag_mark(struct srv *s)
{
	if (s->lag_n == LAG_MAX) { /* nobody acknowledges: forget oldest */
		s->lag_head = (s->lag_head + 1) % LAG_MAX;
		s->lag_n--;
	}
	s->lag[(s->lag_head + s->lag_n) % LAG_MAX] =
	    (struct lag_mark){.seq = s->seq, .wall_ns = link_now_ns()};
	s->lag_n++;
}

/* One METER round at now: every live domain, or just domain `only`
 * (>= 0: its final counters before it goes). */
void meter(struct srv *s, long only)
{
	static struct wire_msg m; /* 8 KiB: not on the stack */
	m.type = WIRE_METER;
	m.u.meter = (struct wire_usage){.boot_id = s->boot_id,
	                                .mono_ns = sim_now(s->sim),
	                                .next = DOMID_INVALID};
	size_t n = sim_ndomains(s->sim), sent = 0;
	for (size_t i = 0; i < n; i++) {
		if (only >= 0 ? i != (size_t)only : !sim_active(s->sim, i))
			continue;
		struct wire_usage_entry *e = &m.u.meter.e[m.u.meter.count++];
		e->domid = (domid_t)(i + 1);
		sim_usage(s->sim, i, &e->c);
		s->dom[i].samples++;
		if (m.u.meter.count == WIRE_MAX_BATCH) {
			record(s, &m);
			sent++;
			m.u.meter.count = 0;
		}
	}
	if (m.u.meter.count) {
		record(s, &m);
		sent++;
	}
	if (sent && only < 0) {
		s->meters++;
		s->last_meter_at = sim_now(s->sim);
		lag_mark(s);
	}
}

static void send_hello(struct srv *s)
{
	static struct wire_msg m;
	m.type = WIRE_HELLO;
	m.u.hello = (struct wire_hello){
	    .role = WIRE_ROLE_HYPERVISOR,
	    .proto_min = 1,
	    .proto_max = 1,
	    .boot_id = s->boot_id,
	    .tsc_hz = 1000000000, /* the simulated TSC counts ns */
	    .mono_ns = sim_now(s->sim),
	    .total_domains = (uint32_t)live_count(s),
	};
	uint64_t dropped = s->rp.dropped_meters + s->rp.dropped_events;
	m.u.hello.dropped =
	    dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
	for (size_t i = 0;
	     i < sim_ndomains(s->sim) && m.u.hello.count < WIRE_MAX_BATCH; i++)
		if (sim_active(s->sim, i))
			domain_entry(s, i, &m.u.hello.d[m.u.hello.count++]);
	s->hello_seq = ++s->seq;
	link_send(s->l, &m, s->hello_seq, 0);
	/* Rule 2: everything unacknowledged again, oldest first. */
	s->cursor = 0;
	pump(s);
}

/* ---- the connection ------------------------------------------------------ */

static void on_ack(struct srv *s, const struct wire_ack *a)
{
	if (a->boot_id != s->boot_id || a->seq <= s->acked || a->seq > s->seq)
		return;
	s->acked = a->seq;
	replay_ack(&s->rp, a->seq);
	uint64_t now = link_now_ns();
	while (s->lag_n && s->lag[s->lag_head].seq <= a->seq) {
		uint64_t lag = now - s->lag[s->lag_head].wall_ns;
		if (lag > s->max_lag_ns)
			s->max_lag_ns = lag;
		s->lag_rounds++;
		s->lag_head = (s->lag_head + 1) % LAG_MAX;
		s->lag_n--;
	}
}

static void disconnect(struct srv *s, const char *why)
{
	char rej[256];
	link_rejects_format(&s->l->st, rej, sizeof(rej));
	say(s, "controller disconnected (%s); rejects so far: %s", why, rej);
	link_close(s->l);
	drop_resps(s);
}

static void receive(struct srv *s)
{
	int n;
	while ((n = link_read(s->l)) > 0 || s->l->eof) {
		struct link_event ev;
		while (link_next(s->l, &ev) != LINK_EV_NONE) {
			if (ev.kind != LINK_EV_MSG)
				continue; /* counted in l->st */
			const struct wire_msg *m = &s->l->msg;
			switch (m->type) {
			case WIRE_HELLO:
				if (m->u.hello.role != WIRE_ROLE_CONTROLLER)
					break;
				send_hello(s); /* rule 2 */
				s->peer_hello = true;
				break;
			case WIRE_ACK:
				on_ack(s, &m->u.ack);
				break;
			case WIRE_CMD:
				command(s, &m->u.cmd);
				break;
			default:
				break; /* not for the hypervisor */
			}
		}
		if (s->l->eof) {
			disconnect(s, "end of stream");
			return;
		}
	}
}

/* ---- clock ------------------------------------------------------------------
 */

/* Advance the simulated clock to `target`, metering on the way. */
static int advance_to(struct srv *s, uint64_t target)
{
	if (s->run_ns && target > s->run_ns)
		target = s->run_ns;
	while (sim_now(s->sim) < target) {
		uint64_t step = target < s->next_meter ? target : s->next_meter;
		if (sim_advance(s->sim, step))
			return -1;
		if (sim_now(s->sim) == s->next_meter) {
			meter(s, -1);
			s->next_meter += s->interval_ns;
		}
	}
	if (s->run_ns && sim_now(s->sim) >= s->run_ns && !s->frozen) {
		s->frozen = true;
		if (s->last_meter_at != sim_now(s->sim))
			meter(s, -1); /* rule 4: the final counters */
		say(s,
		    "run complete at %" PRIu64 " ms simulated; clock "
		    "stopped, still serving",
		    (uint64_t)(sim_now(s->sim) / NS_PER_MS));
	}
	return 0;
}

/* Where the simulated clock should be now, and how long (wall ms) until the
 * next metering instant; -1: nothing to wait for but the socket. */
static int clock_step(struct srv *s, int *timeout_ms)
{
	*timeout_ms = -1;
	if (s->frozen)
		return 0;
	if (s->o->speed == 0) {
		/* ACK-paced: one round at a time while the controller keeps
		 * up (half the replay buffer unacknowledged at most). */
		if (s->l->fd >= 0 && s->rp.bytes < s->rp.max_bytes / 2 &&
		    link_tx_pending(s->l) < TX_LOW_WATER) {
			if (advance_to(s, s->next_meter))
				return -1;
			*timeout_ms = 0;
		}
		return 0;
	}
	uint64_t wall = link_now_ns() - s->wall0;
	uint64_t target = s->sim0 + wall * s->o->speed;
	if (advance_to(s, target))
		return -1;
	if (s->frozen)
		return 0;
	uint64_t ahead = s->next_meter - sim_now(s->sim);
	uint64_t wait_ns = ahead / s->o->speed;
	*timeout_ms = (int)(wait_ns / NS_PER_MS) + 1;
	return 0;
}

/* ---- dump
 * --------------------------------------------------------------------- */

static void dump(struct srv *s)
{
	if (!s->o->dump_path)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->o->dump_path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		say(s, "%s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f,
	        "{\"boot_id\":%" PRIu64 ",\"mono_ns\":%" PRIu64
	        ",\"meter_interval_ms\":%" PRIu64 ",\"meter_rounds\":%" PRIu64
	        ",\"decisions\":%" PRIu64 ",\"idle_ns\":%" PRIu64
	        ",\"domains\":[",
	        s->boot_id, sim_now(s->sim), s->o->meter_interval_ms, s->meters,
	        sim_decisions(s->sim), sim_idle_ns(s->sim));
	for (size_t i = 0; i < sim_ndomains(s->sim); i++) {
		struct wire_domain d;
		domain_entry(s, i, &d);
		struct usage_counters c;
		sim_usage(s->sim, i, &c);
		fprintf(
		    f,
		    "%s{\"domid\":%zu,\"name\":\"%s\",\"workload\":\"%s\","
		    "\"active\":%s,\"paused\":%s,\"memory_mb\":%" PRIu64
		    ",\"samples\":%" PRIu64 ",\"cpu_weight\":%u,"
		    "\"cpu_cap_pct\":%u,\"warp_us\":%" PRIu64
		    ",\"warp_limit_us\":%" PRIu64 ",\"unwarp_us\":%" PRIu64
		    ",\"io_bps\":%" PRIu64 ",\"io_iops\":%" PRIu64
		    ",\"io_burst_bytes\":%" PRIu64 ",\"io_burst_ops\":%" PRIu64
		    ",\"memory_max_mb\":%" PRIu64
		    ",\"mem_growth_pages_per_s\":%" PRIu64
		    ",\"mem_growth_burst_pages\":%" PRIu64 ",\"usage\":{",
		    i ? "," : "", i + 1, d.name,
		    workload_name(s->sc->doms[i].wl),
		    sim_active(s->sim, i) ? "true" : "false",
		    sim_active(s->sim, i) && sim_paused(s->sim, i) ? "true"
		                                                   : "false",
		    d.memory_mb, s->dom[i].samples, d.sched.cpu_weight,
		    d.sched.cpu_cap_pct, d.sched.warp_us, d.sched.warp_limit_us,
		    d.sched.unwarp_us, d.io.io_bps, d.io.io_iops,
		    d.io.io_burst_bytes, d.io.io_burst_ops, d.mem.memory_max_mb,
		    d.mem.mem_growth_pages_per_s, d.mem.mem_growth_burst_pages);
		for (unsigned k = 0; k < USAGE_NFIELDS; k++)
			fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "",
			        usage_field_name(k), usage_field_get(&c, k));
		fprintf(f, "}}");
	}
	fprintf(f,
	        "],\"link\":{\"connects\":%" PRIu64 ",\"last_seq\":%" PRIu64
	        ",\"acked_seq\":%" PRIu64 ",\"bytes_out\":%" PRIu64
	        ",\"frames_out\":%" PRIu64 ",\"bytes_in\":%" PRIu64
	        ",\"frames_in\":%" PRIu64 ",\"meter_frames\":%" PRIu64
	        ",\"meter_bytes\":%" PRIu64 ",\"events\":%" PRIu64
	        ",\"cmds\":%" PRIu64 ",\"cmd_errors\":%" PRIu64
	        ",\"replay_bytes\":%zu,\"replay_records\":%zu"
	        ",\"replay_high_water\":%zu"
	        ",\"replay_dropped_meters\":%" PRIu64
	        ",\"replay_dropped_events\":%" PRIu64
	        ",\"max_ack_lag_ms\":%.3f,\"acked_rounds\":%" PRIu64
	        ",\"rejects\":{",
	        s->l->st.connects, s->seq, s->acked, s->l->st.bytes_out,
	        s->l->st.frames_out, s->l->st.bytes_in, s->l->st.frames_in,
	        s->meter_frames, s->meter_bytes, s->events, s->cmds,
	        s->cmd_errors, s->rp.bytes, s->rp.live, s->rp.high_water,
	        s->rp.dropped_meters, s->rp.dropped_events,
	        (double)s->max_lag_ns / 1e6, s->lag_rounds);
	for (unsigned k = 1; k < WIRE_REJ_COUNT; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k > 1 ? "," : "",
		        wire_reason_name((enum wire_reason)k),
		        s->l->st.rejects[k]);
	fprintf(f, "}}}\n");
	if (fclose(f) || rename(tmp, s->o->dump_path))
		say(s, "%s: %s", s->o->dump_path, strerror(errno));
}

/* ---- main loop ------------------------------------------------------------
 */

static uint64_t random_boot_id(void)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v = 0;
		close(fd);
	}
	if (!v)
		v = link_now_ns() ^ ((uint64_t)getpid() << 32);
	return v ? v : 1;
}

/* Stop: the final METER, then up to 2 s for the controller to acknowledge
 * everything, so a clean stop loses nothing it could have delivered. */
static void linger(struct srv *s)
{
	if (!s->frozen && s->last_meter_at != sim_now(s->sim))
		meter(s, -1);
	s->frozen = true;
	uint64_t end = link_now_ns() + 2 * NS_PER_S;
	while (s->l->fd >= 0 && s->rp.live && link_now_ns() < end) {
		pump(s);
		if (link_flush(s->l)) {
			disconnect(s, "write failed");
			break;
		}
		struct pollfd p = {.fd = s->l->fd, .events = POLLIN};
		if (link_tx_pending(s->l))
			p.events |= POLLOUT;
		if (poll(&p, 1, 50) > 0 && (p.revents & (POLLIN | POLLHUP)))
			receive(s);
	}
	if (s->l->fd >= 0)
		link_flush_wait(s->l, 500);
}

static int loop(struct srv *s)
{
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!got_signal && !s->stopping) {
		int timeout;
		if (clock_step(s, &timeout))
			return 1;
		struct pollfd p[2];
		nfds_t np = 0;
		if (s->l->fd < 0) {
			p[np++] =
			    (struct pollfd){.fd = s->lfd, .events = POLLIN};
		} else {
			pump(s);
			p[np++] = (struct pollfd){
			    .fd = s->l->fd,
			    .events =
			        (short)(POLLIN |
			                (link_tx_pending(s->l) ? POLLOUT : 0)),
			};
		}
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		struct timespec ts = {timeout / 1000,
		                      (long)(timeout % 1000) * 1000000};
		int n = ppoll(p, np, &ts, &orig);
		if (n < 0 && errno != EINTR)
			return 1;
		if (n <= 0)
			continue;
		if (s->l->fd < 0) {
			if (p[0].revents & POLLIN &&
			    link_accept(s->l, s->lfd) == 0) {
				say(s, "controller connected");
				s->peer_hello = false; /* wait for its HELLO */
			}
		} else {
			if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
				receive(s);
			if (s->l->fd >= 0) {
				pump(s);
				if (link_flush(s->l))
					disconnect(s, "write failed");
			}
		}
	}
	if (s->stopping)
		say(s, "SHUTDOWN by the controller");
	linger(s);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return 0;
}

int serve_run(struct scenario *sc, const struct serve_opts *o)
{
	static struct link link;
	struct srv s = {.o = o, .sc = sc, .lfd = -1, .l = &link};
	int rc = 1;
	link_init(&link);
	replay_init(&s.rp, o->replay_bytes);
	s.cap = o->max_domains > sc->n ? o->max_domains : sc->n;
	s.dom = calloc(s.cap ? s.cap : 1, sizeof(*s.dom));
	s.lag = calloc(LAG_MAX, sizeof(*s.lag));
	if (!s.dom || !s.lag || scenario_reserve(sc, s.cap)) {
		fprintf(stderr, "hvsim: out of memory\n");
		goto out;
	}
	struct sim_opts so = {.check = o->check, .no_latency = true};
	s.sim = sim_open(sc, &so, s.cap);
	if (!s.sim) {
		fprintf(stderr, "hvsim: cannot start the simulation\n");
		goto out;
	}
	s.boot_id = o->boot_id ? o->boot_id : random_boot_id();
	s.interval_ns = o->meter_interval_ms * NS_PER_MS;
	s.next_meter = s.interval_ns;
	s.run_ns = o->run_ms * NS_PER_MS;
	s.last_meter_at = UINT64_MAX;
	for (size_t i = 0; i < sc->n; i++) {
		/* Scenario files have no memory key: boot domains get
		 * 64, 128, 192 or 256 MB by index, so the gauge varies. */
		s.dom[i].memory_mb = DEFAULT_MEMORY_MB * (1 + i % 4);
		const struct scn_io *io = &sc->doms[i].io;
		if (sc->doms[i].wl == WL_IO)
			s.dom[i].io = (struct wire_io_limits){
			    io->bps, io->iops, io->burst_bytes, io->burst_ops};
		sim_set_mem_pages(s.sim, i, s.dom[i].memory_mb * PAGES_PER_MB);
		event(&s, i, WIRE_EV_CREATED, 0, 0);
	}
	char err[256];
	s.lfd = link_listen(o->path, err, sizeof(err));
	if (s.lfd < 0) {
		fprintf(stderr, "hvsim: %s\n", err);
		rc = 2;
		goto out;
	}
	say(&s,
	    "serving %s: boot %016" PRIx64 ", %zu domains, speed %" PRIu64
	    ", METER every %" PRIu64 " ms",
	    o->path, s.boot_id, sc->n, o->speed, o->meter_interval_ms);
	s.wall0 = link_now_ns();
	rc = loop(&s);
	dump(&s);
	say(&s,
	    "stopped at %" PRIu64 " ms simulated: %" PRIu64
	    " METER rounds, last seq %" PRIu64 ", acked %" PRIu64,
	    (uint64_t)(sim_now(s.sim) / NS_PER_MS), s.meters, s.seq, s.acked);
out:
	if (s.lfd >= 0) {
		close(s.lfd);
		unlink(o->path);
	}
	link_free(&link);
	replay_free(&s.rp);
	drop_resps(&s);
	free(s.resp);
	sim_close(s.sim);
	free(s.dom);
	free(s.lag);
	return rc;
}

int serve_generate(struct scenario *sc, size_t n, char *err, size_t errlen)
{
	for (size_t k = 0; k < n; k++) {
		struct scn_domain d = {.line = 0};
		scn_domain_defaults(&d);
		snprintf(d.name, sizeof(d.name), "dom-%05zu", k + 1);
		d.sp.cpu_weight = 128u << (k % 4);
		/* Event rates stay low (about 10 per simulated second per
		 * blocking domain) so that thousands of domains simulate
		 * far faster than real time. */
		switch (k % 10) {
		case 6:
		case 7:
			d.wl = WL_PERIODIC;
			d.period_us = 100000;
			d.burst_us = 1000 + (k * 37) % 20000;
			d.phase_us = (k * 7919) % 100000;
			break;
		case 8:
			d.wl = WL_ONOFF;
			d.on_us = 20000;
			d.off_us = 80000;
			break;
		case 9:
			d.wl = WL_IO;
			d.io.req_bytes = 4096;
			d.io.iops = 20;
			d.io.queue_depth = 4;
			d.io.mix_read_pct = 70;
			break;
		default:
			d.wl = WL_CPU;
			break;
		}
		if (k % 5 == 1)
			d.sp.cpu_cap_pct = 50;
		if (scenario_add(sc, &d, err, errlen))
			return -1;
	}
	return 0;
}
