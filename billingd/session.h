/*
 * billingd's side of one management-link connection: the protocol logic
 * between the link (tools/link/link.h) and the store (store.h).
 *
 * State machine of a connection:
 *
 *     connected --send HELLO--> waiting --hypervisor HELLO--> listing
 *     listing --LIST_DOMAINS pages done--> up (desired state pushed)
 *     any --EOF / error / resync--> closed (the main loop reconnects)
 *
 * Records (METER, EVENT) are stored as they arrive, inside the batch
 * transaction the main loop opened; session_end_batch() commits it and
 * only then sends ACK for the highest record sequence number stored with
 * nothing lost before it on this connection.
 *
 * Loss rule (docs/billingd.md section 4): after the hypervisor's HELLO
 * (sequence H) every frame it sends has the next number; resent records
 * carry numbers below H, with gaps. A record may have been lost when
 *   - a frame numbered above H skips a number (a frame was destroyed), or
 *   - a frame is rejected among the resends (gaps are normal there, so a
 *     destroyed resend cannot be seen), or
 *   - a frame is rejected among new frames and no good frame follows
 *     within resync_delay_ms (the next one's number would tell).
 * From then on the ACK point stays where it was, and resync_delay_ms later
 * billingd says HELLO again, so the hypervisor answers with its HELLO and
 * resends every record after the ACK point (after three unanswered HELLOs,
 * hello_timeout_ms apart, it reconnects). Counters are cumulative, so a lost
 * METER never costs usage; this rule also keeps lost EVENTs from being
 * acknowledged. Rejects before the HELLO lose nothing (nothing is stored
 * before it, and it brings a resend).
 */
#ifndef BILLINGD_SESSION_H
#define BILLINGD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "desired.h"
#include "store.h"
#include "tools/link/link.h"

struct u64map {         /* open addressing: key -> index into a side array */
	uint64_t *keys; /* key + 1; 0: empty */
	uint32_t *vals;
	size_t cap, n;
};

struct pending_cmd {
	uint64_t req;
	uint64_t tag; /* session_command(): handed back to hooks.resp */
	uint16_t op;
	domid_t domid;
	int64_t domain; /* SET_*: domains.id */
	int64_t generation;
	uint64_t sent_ns;
};

struct push_state {
	int64_t domain, generation; /* last generation pushed this session */
	int outstanding;            /* SET_* without RESP */
	int status;                 /* first refusal, or 0 */
};

/* What the owner of the session (billingd's main loop, for the REST API's
 * commands) hears about, all called on the main loop's thread, some inside
 * the batch transaction: the hooks must not touch the store. */
struct session_hooks {
	void *ctx;
	/* The RESP to session_command(tag); status 0 or FS_E*. */
	void (*resp)(void *ctx, uint64_t tag, const struct wire_resp *r);
	/* A push of desired generation `generation` of domains.id `domain`
	 * was answered: status 0 (applied) or the first refusal. */
	void (*pushed)(void *ctx, int64_t domain, int64_t generation,
	               int status);
	/* The connection closed: every tagged command is forgotten. */
	void (*closed)(void *ctx);
};

struct session {
	const struct config *cfg;
	struct session_hooks hooks;
	uint64_t doms_gen; /* bumped whenever doms[] changes */
	struct store *st;
	struct link *l;

	/* This connection. */
	bool hello;            /* the hypervisor's HELLO arrived */
	uint64_t connected_ns; /* when this connection was made */
	bool listed;           /* the domain list is complete */
	uint64_t boot_id;      /* of the hypervisor on the link */
	int64_t boot_ref;      /* boots.id */
	uint64_t hello_seq, next_seq;
	bool loss;        /* a record may have been lost: resync */
	bool suspect;     /* a reject among new frames, not yet known
	                   * harmless by the next frame's number */
	bool past_resend; /* a frame numbered above the HELLO arrived */
	uint64_t suspect_ns;
	bool awaiting_hello;    /* our HELLO is not answered yet */
	uint64_t hello_sent_ns; /* when we last said HELLO */
	int hello_tries;        /* HELLOs sent without an answer */
	uint64_t loss_ns;
	uint64_t batch_max;  /* highest record seq in the open batch */
	uint64_t ack_point;  /* highest record seq committed, loss-free */
	uint64_t acked;      /* last ACK sent */
	uint64_t max_record; /* highest record seq received (this boot) */

	struct wire_domain *doms; /* the hypervisor's domains */
	size_t ndoms, capdoms;
	struct u64map by_domid;

	struct pending_cmd *pend;
	size_t npend, cappend;
	uint64_t next_req;

	struct push_state *push;
	size_t npush, cappush;
	struct u64map by_domain;

	uint64_t data_version;
	bool repush; /* a push completed: look for newer desired state */

	/* Totals over all connections, for logs and the stats table. */
	uint64_t hv_dropped; /* HELLO's `dropped`: records the hypervisor
	                      * dropped from its replay log this boot */
	uint64_t records, acks_sent, gaps, losses, foreign, pushes,
	    push_refused;
};

void session_init(struct session *s, const struct config *cfg, struct store *st,
                  struct link *l);
void session_free(struct session *s);

/* A new connection: reset the per-connection state, send our HELLO. */
void session_connected(struct session *s);
/* Send our HELLO (again): the hypervisor answers with its own and resends
 * every unacknowledged record, which is how a loss is repaired without
 * reconnecting. */
void session_say_hello(struct session *s);
/* The connection is gone: drop per-connection state (not the totals). */
void session_closed(struct session *s);

/* One link event, inside the open batch (store_begin() done by the
 * caller). 0, or -1 on a store failure (the caller rolls back and
 * reconnects). */
int session_event(struct session *s, const struct link_event *ev);

/* Commit the batch and acknowledge what it made durable. 0 or -1. */
int session_end_batch(struct session *s);

/* Push every desired-state row not yet pushed on this connection (call
 * when the desired state may have changed). 0 or -1. */
int session_push_desired(struct session *s);

/* Send c (domid, op and body set by the caller) with a fresh request id;
 * its RESP goes to hooks.resp with tag (non-zero). A tagged command is not
 * retried: unanswered after cmd_timeout_ms it is dropped. 0, or -1 if it
 * could not be queued. */
int session_command(struct session *s, struct wire_cmd *c, uint64_t tag);
/* The hypervisor's entry for name (a live domain), or NULL. */
const struct wire_domain *session_domain(const struct session *s,
                                         const char *name);
/* The link is up, the hypervisor said HELLO and its domain list is
 * complete: commands by name can be sent. */
bool session_ready(const struct session *s);

/* Periodic work: commands unanswered for cmd_timeout_ms are retried. */
void session_tick(struct session *s, uint64_t now_ns);

/* Whether the desired table was changed by another connection since the
 * last call (PRAGMA data_version). */
bool session_desired_changed(struct session *s);

/* "records=N acks=N ..." for logs; writes the stats table (open tx). */
int session_save_stats(struct session *s);
void session_format_stats(const struct session *s, char *buf, size_t len);

#endif
