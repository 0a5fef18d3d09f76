/*
 * Internal to hvsim --serve-link (serve.c: clock, records, connection;
 * serve_cmd.c: domains and commands). Not for other users.
 */
#ifndef HVSIM_SERVE_INT_H
#define HVSIM_SERVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve.h"
#include "sim.h"
#include "tools/link/link.h"
#include "tools/link/replay.h"

#define DEFAULT_MEMORY_MB 64u
#define PAGES_PER_MB 256u
/* The send cursor tops the output queue up to this many bytes. */
#define TX_LOW_WATER (256u << 10)
/* Measured ACK lag: this many metering rounds are remembered at most. */
#define LAG_MAX 65536u

struct sdom { /* serve-side state of scenario domain i */
	uint64_t memory_mb;
	struct wire_io_limits io; /* non-io workloads: stored only */
	struct wire_mem_limits mem;
	uint64_t samples; /* METER entries sent for it */
};

struct lag_mark { /* last seq of a metering round, and when it went out */
	uint64_t seq, wall_ns;
};

struct srv {
	const struct serve_opts *o;
	struct scenario *sc;
	struct sim *sim;
	struct sdom *dom; /* max_domains entries */
	size_t cap;
	uint64_t boot_id;
	uint64_t seq;       /* last sequence number used (rule 1) */
	uint64_t acked;     /* highest seq acknowledged */
	uint64_t hello_seq; /* seq of the HELLO on this connection */
	uint64_t cursor;    /* next record seq to send (rule 2) */
	bool peer_hello;    /* controller HELLO seen on this connection */
	int lfd;
	struct link *l;
	struct replay rp;
	uint64_t meters, meter_frames, meter_bytes, events;
	uint64_t interval_ns, next_meter, run_ns, last_meter_at;
	bool frozen, stopping;
	uint64_t wall0, sim0; /* sim time sim0 at wall time wall0 */
	struct lag_mark *lag;
	size_t lag_head, lag_n;
	uint64_t max_lag_ns, lag_rounds;
	uint64_t cmds, cmd_errors;
	struct replay_rec *resp; /* RESPs waiting for earlier records */
	size_t resp_head, nresp, capresp;
};

void say(const struct srv *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A new EVENT record about domain i / a METER round (only >= 0: just that
 * domain's final counters). */
void event(struct srv *s, size_t i, uint16_t kind, uint16_t why,
           uint64_t detail);
void meter(struct srv *s, long only);
/* Domain i as a link domain entry; live domains; index of a live domid or
 * -1. */
void domain_entry(const struct srv *s, size_t i, struct wire_domain *d);
size_t live_count(const struct srv *s);
long find(const struct srv *s, domid_t id);
/* Queue a RESP (the next sequence number); it goes out after every record
 * numbered before it. */
void queue_resp(struct srv *s, const struct wire_msg *m);
/* Send what is due, in sequence order, while the output queue is short. */
void pump(struct srv *s);
/* Carry out c and queue its RESP. */
void command(struct srv *s, const struct wire_cmd *c);

#endif
