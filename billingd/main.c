/*
 * billingd: the control domain's daemon. Ingests the hypervisor's metering
 * into SQLite and pushes the desired state back (design.md sections 6-7,
 * docs/billingd.md).
 *
 *   billingd --config FILE                   run the daemon
 *   billingd --config FILE --set NAME k=v..  change desired state
 *   billingd --config FILE --unset NAME [k..] stop managing keys
 *   billingd --config FILE --backup OUT      online backup of the database
 *   billingd --config FILE --rollup          roll up and apply retention now
 *   billingd --config FILE --create-key --role admin|tenant [--customer ID]
 *                                            a REST API key, printed once
 *   billingd --config FILE --revoke-key KEYID
 *   billingd --list-routes                   the REST routes served
 *
 * The daemon is one thread and one poll() loop (this file): connect to the
 * link socket with exponential backoff, read what arrives in batches (one
 * SQLite transaction per batch, then ACK; session.c), resync after a loss,
 * push desired-state changes, roll up once a minute, stop cleanly on
 * SIGTERM/SIGINT (commit, ACK, close). The REST API (web-api/api.h) runs
 * in its own thread pool; it reaches this loop through an eventfd (jobs
 * for the hypervisor) and this loop publishes the link's view to it. After
 * every committed batch of records (and once a minute) the quotas are
 * evaluated and their pause/unpause actions sent (api_after_commit()).
 *
 * Exit status: 0 clean stop or command done; 1 runtime failure; 2 bad
 * command line or configuration ("FILE:LINE: reason").
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "desired.h"
#include "billing.h"
#include "log.h"
#include "rollup.h"
#include "session.h"
#include "store.h"
#include "tools/link/kv.h"
#include "tools/link/link.h"
#include "web-api/api.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: billingd --config FILE\n"
	           "       billingd --config FILE --set NAME key=value ...\n"
	           "       billingd --config FILE --unset NAME [key ...]\n"
	           "       billingd --config FILE --backup OUT\n"
	           "       billingd --config FILE --rollup\n"
	           "       billingd --config FILE --create-key --role "
	           "admin|tenant [--customer ID]\n"
	           "       billingd --config FILE --revoke-key KEYID\n"
	           "       billingd --list-routes\n");
}

/* mkdir -p of the directory part of path. */
static void make_parent(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	char *slash = strrchr(buf, '/');
	if (!slash)
		return;
	*slash = '\0';
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0750);
			*p = '/';
		}
	mkdir(buf, 0750);
}

/* ---- the daemon
 * --------------------------------------------------------------- */

struct daemon {
	const struct config *cfg;
	struct store *st;
	struct link *l;
	struct session s;
	struct api *api;
	uint64_t backoff_ns, next_connect;
	bool warned_down;
};

static void disconnect(struct daemon *d, const char *why, uint64_t retry_ns)
{
	char stats[1024];
	session_end_batch(&d->s);
	link_flush(d->l);
	session_format_stats(&d->s, stats, sizeof(stats));
	blog(LOG_INFO, "link down (%s): %s", why, stats);
	link_close(d->l);
	session_closed(&d->s);
	d->next_connect = link_now_ns() + retry_ns;
}

static void try_connect(struct daemon *d)
{
	char err[512];
	if (link_connect(d->l, d->cfg->link_socket, err, sizeof(err))) {
		blog(d->warned_down ? LOG_DEBUG : LOG_WARN,
		     "%s; retrying with backoff up to %" PRIu64 " ms", err,
		     d->cfg->reconnect_max_ms);
		d->warned_down = true;
		d->next_connect = link_now_ns() + d->backoff_ns;
		d->backoff_ns *= 2;
		if (d->backoff_ns > d->cfg->reconnect_max_ms * NS_PER_MS)
			d->backoff_ns = d->cfg->reconnect_max_ms * NS_PER_MS;
		return;
	}
	blog(LOG_INFO, "connected to %s", d->cfg->link_socket);
	d->warned_down = false;
	d->backoff_ns = d->cfg->reconnect_min_ms * NS_PER_MS;
	session_connected(&d->s);
}

/* Handle everything buffered, in one transaction; then commit and ACK.
 * Returns -1 if the store failed (the batch is rolled back). */
static int drain(struct daemon *d)
{
	struct link_event ev;
	int rc = 0;
	while (link_next(d->l, &ev) != LINK_EV_NONE) {
		if (rc)
			continue; /* after a failure: count, store nothing */
		if (!store_in_tx(d->st) && store_begin(d->st)) {
			blog(LOG_ERROR, "begin: %s", store_errmsg(d->st));
			rc = -1;
			continue;
		}
		if (session_event(&d->s, &ev)) {
			blog(LOG_ERROR, "store: %s", store_errmsg(d->st));
			store_rollback(d->st);
			rc = -1;
		}
	}
	return rc;
}

/* Read and store up to batch_max_frames frames' worth, then commit. */
static void receive(struct daemon *d)
{
	uint64_t frames0 = d->l->st.frames_in, records0 = d->s.records;
	int failed = 0;
	for (;;) {
		int n = link_read(d->l);
		if (n > 0 || d->l->eof)
			failed |= drain(d);
		if (n <= 0 || d->l->eof ||
		    d->l->st.frames_in - frames0 >= d->cfg->batch_max_frames)
			break;
	}
	if (failed) {
		disconnect(d, "store failure",
		           d->cfg->reconnect_min_ms * NS_PER_MS);
		return;
	}
	session_end_batch(&d->s);
	if (d->s.repush)
		session_push_desired(&d->s);
	api_after_commit(d->api, d->s.records != records0);
	if (d->l->eof)
		disconnect(d, "end of stream",
		           d->cfg->reconnect_min_ms * NS_PER_MS);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int run(struct daemon *d)
{
	const struct config *cfg = d->cfg;
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	uint64_t now = link_now_ns();
	uint64_t poll_every = cfg->desired_poll_ms * NS_PER_MS;
	uint64_t next_poll = now, next_tick = now + NS_PER_S;
	uint64_t rollup_every = cfg->rollup_interval_s * NS_PER_S;
	uint64_t next_rollup = now + rollup_every;
	d->backoff_ns = cfg->reconnect_min_ms * NS_PER_MS;
	d->next_connect = now;
	session_desired_changed(&d->s); /* baseline data_version */

	while (!stop_signal) {
		now = link_now_ns();
		if (d->l->fd < 0 && now >= d->next_connect)
			try_connect(d);
		bool up = d->l->fd >= 0;

		/* When must we wake up without I/O? */
		uint64_t wake = min_u64(next_poll, next_tick);
		if (rollup_every)
			wake = min_u64(wake, next_rollup);
		if (!up)
			wake = min_u64(wake, d->next_connect);
		if (up && d->l->dec.tail > d->l->dec.head)
			wake =
			    min_u64(wake, d->l->last_rx_ns +
			                      cfg->idle_timeout_ms * NS_PER_MS);
		if (up && d->s.suspect)
			wake =
			    min_u64(wake, d->s.suspect_ns +
			                      cfg->resync_delay_ms * NS_PER_MS);
		if (up && d->s.loss && !d->s.awaiting_hello)
			wake =
			    min_u64(wake, d->s.loss_ns +
			                      cfg->resync_delay_ms * NS_PER_MS);
		if (up && d->s.awaiting_hello)
			wake = min_u64(wake,
			               d->s.hello_sent_ns +
			                   cfg->hello_timeout_ms * NS_PER_MS);
		wake = min_u64(wake, api_next_deadline(d->api));
		uint64_t wait = wake > now ? wake - now : 0;
		struct timespec ts = {(time_t)(wait / NS_PER_S),
		                      (long)(wait % NS_PER_S)};
		/* A negative fd (link down) is ignored by ppoll. */
		struct pollfd pf[2] = {
		    {.fd = up ? d->l->fd : -1, .events = POLLIN},
		    {.fd = api_fd(d->api), .events = POLLIN}};
		struct pollfd *p = &pf[0];
		if (up && link_tx_pending(d->l))
			p->events |= POLLOUT;
		int n = ppoll(pf, 2, &ts, &orig);
		if (n < 0 && errno != EINTR) {
			blog(LOG_ERROR, "poll: %s", strerror(errno));
			return 1;
		}
		now = link_now_ns();
		if (up && n > 0 && (p->revents & (POLLIN | POLLHUP | POLLERR)))
			receive(d);
		up = d->l->fd >= 0;
		/* receive() stamps times later than the `now` above: compare
		 * deadlines (stamp + delay <= now), never now - stamp. */
		now = link_now_ns();

		/* A partial frame older than the idle timeout: the stream
		 * is treated as ended there (truncated), without closing. */
		if (up && d->l->dec.tail > d->l->dec.head &&
		    d->l->last_rx_ns + cfg->idle_timeout_ms * NS_PER_MS <=
		        now) {
			link_flush_partial(d->l);
			if (drain(d))
				disconnect(d, "store failure", 0);
			else
				session_end_batch(&d->s);
			up = d->l->fd >= 0;
		}
		if (up && d->s.suspect && !d->s.loss &&
		    d->s.suspect_ns + cfg->resync_delay_ms * NS_PER_MS <= now) {
			/* A reject and no frame since: maybe the last one. */
			d->s.loss = true;
			d->s.losses++;
			d->s.loss_ns = d->s.suspect_ns;
			blog(LOG_WARN,
			     "frame rejected, none since; will resync");
		}
		if (up && d->s.loss && !d->s.awaiting_hello &&
		    d->s.loss_ns + cfg->resync_delay_ms * NS_PER_MS <= now) {
			blog(LOG_INFO, "resync: HELLO again");
			session_say_hello(&d->s);
		}
		/* Our HELLO unanswered: it or the answer was damaged (say
		 * it again), or another controller holds the link and our
		 * connection waits in the socket's backlog (reconnect after
		 * three tries). */
		if (up && d->s.awaiting_hello &&
		    d->s.hello_sent_ns + cfg->hello_timeout_ms * NS_PER_MS <=
		        now) {
			if (d->s.hello_tries < 3) {
				session_say_hello(&d->s);
			} else {
				disconnect(d, "no HELLO from the hypervisor",
				           d->backoff_ns);
				up = false;
			}
		}
		if (now >= next_poll) {
			next_poll = now + poll_every;
			if ((session_desired_changed(&d->s) || d->s.repush) &&
			    up)
				session_push_desired(&d->s);
		}
		if (now >= next_tick) {
			next_tick = now + NS_PER_S;
			if (up)
				session_tick(&d->s, now);
		}
		if (rollup_every && now >= next_rollup) {
			next_rollup = now + rollup_every;
			struct rollup_result rr;
			char err[256];
			/* One chunk per turn of the loop: a backlog is rolled
			 * up between reads of the link and API jobs. */
			if (store_rollup_some(d->st, cfg->retention_days, 1,
			                      &rr, err, sizeof(err)))
				blog(LOG_WARN, "%s", err);
			else if (rr.rolled)
				blog(LOG_DEBUG,
				     "rolled up %" PRIu64 " deltas%s",
				     rr.rolled, rr.more ? ", more to do" : "");
			if (rr.more)
				next_rollup = now;
		}
		/* REST jobs and quota actions; the view of the link. */
		api_main_work(d->api, link_now_ns());
		api_after_commit(d->api, false);
		if (d->l->fd >= 0 && link_flush(d->l))
			disconnect(d, "write failed",
			           cfg->reconnect_min_ms * NS_PER_MS);
	}
	blog(LOG_INFO, "stopping (signal %d)", (int)stop_signal);
	if (d->l->fd >= 0) {
		/* What is buffered is stored and acknowledged before we go. */
		drain(d);
		session_end_batch(&d->s);
		link_flush_wait(d->l, 500);
	} else {
		session_end_batch(&d->s);
	}
	char stats[1024];
	session_format_stats(&d->s, stats, sizeof(stats));
	blog(LOG_INFO, "stopped: %s", stats);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return 0;
}

/* The API's threads start with SIGTERM and SIGINT blocked (they inherit
 * the mask), so the signals reach the main loop's ppoll() and stop it at
 * once instead of landing in a pool thread. */
static int start_api(struct daemon *d, char *err, size_t errlen)
{
	sigset_t block, saved;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	int rc = api_start(&d->api, d->cfg, d->st, &d->s, err, errlen);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
}

/* ---- commands
 * ---------------------------------------------------------------------- */

static int cmd_set(struct store *st, int argc, char **argv, bool unset)
{
	if (argc < 1 || (!unset && argc < 2)) {
		usage(stderr);
		return 2;
	}
	struct kv_params p = {0};
	char err[256];
	for (int i = 1; i < argc; i++) {
		if (unset) {
			int k = kv_lookup(argv[i]);
			if (k < 0 || kv_group_of((unsigned)k) == KV_G_CREATE) {
				fprintf(stderr, "billingd: unknown key '%s'\n",
				        argv[i]);
				return 2;
			}
			p.set |= 1u << k;
		} else if (kv_parse(&p, argv[i],
		                    KV_G_SCHED | KV_G_IO | KV_G_MEM, err,
		                    sizeof(err))) {
			fprintf(stderr, "billingd: %s\n", err);
			return 2;
		}
	}
	int rc = unset
	             ? billingd_clear_desired(st, argv[0], argc > 1 ? &p : NULL,
	                                      err, sizeof(err))
	             : billingd_set_desired(st, argv[0], &p, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "billingd: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cfg_path = NULL, *backup = NULL;
	const char *role = NULL, *customer = NULL, *revoke = NULL;
	int set_at = 0, unset_at = 0;
	bool rollup = false, create_key = false;
	int i;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			cfg_path = argv[++i];
		} else if (!strcmp(argv[i], "--set")) {
			set_at = i + 1;
			break;
		} else if (!strcmp(argv[i], "--unset")) {
			unset_at = i + 1;
			break;
		} else if (!strcmp(argv[i], "--backup") && i + 1 < argc) {
			backup = argv[++i];
		} else if (!strcmp(argv[i], "--rollup")) {
			rollup = true;
		} else if (!strcmp(argv[i], "--create-key")) {
			create_key = true;
		} else if (!strcmp(argv[i], "--role") && i + 1 < argc) {
			role = argv[++i];
		} else if (!strcmp(argv[i], "--customer") && i + 1 < argc) {
			customer = argv[++i];
		} else if (!strcmp(argv[i], "--revoke-key") && i + 1 < argc) {
			revoke = argv[++i];
		} else if (!strcmp(argv[i], "--list-routes")) {
			api_print_routes();
			return 0;
		} else if (!strcmp(argv[i], "--help") ||
		           !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "billingd: unexpected argument '%s'\n",
			        argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!cfg_path) {
		fprintf(stderr, "billingd: --config FILE is required\n");
		usage(stderr);
		return 2;
	}
	static struct config cfg;
	char err[4200];
	config_default(&cfg);
	if (config_load(&cfg, cfg_path, err, sizeof(err))) {
		fprintf(stderr, "billingd: %s\n", err);
		return 2;
	}
	log_threshold = cfg.log_level;
	make_parent(cfg.database);
	struct store *st;
	if (store_open(&st, cfg.database, cfg.sync_full, err, sizeof(err))) {
		fprintf(stderr, "billingd: %s\n", err);
		return 1;
	}
	int rc = 0;
	if ((role || customer) && !create_key) {
		fprintf(stderr, "billingd: --role and --customer go with "
		                "--create-key\n");
		rc = 2;
	} else if (create_key) {
		char key[160];
		if (api_create_key(st, role, customer, key, sizeof(key), err,
		                   sizeof(err))) {
			fprintf(stderr, "billingd: %s\n", err);
			rc = 2;
		} else {
			printf("%s\n", key);
		}
	} else if (revoke) {
		if (api_revoke_key(st, revoke, err, sizeof(err))) {
			fprintf(stderr, "billingd: %s\n", err);
			rc = 1;
		}
	} else if (set_at || unset_at) {
		int at = set_at ? set_at : unset_at;
		rc = cmd_set(st, argc - at, argv + at, unset_at != 0);
	} else if (backup) {
		if (store_backup(st, backup, err, sizeof(err))) {
			fprintf(stderr, "billingd: %s\n", err);
			rc = 1;
		}
	} else if (rollup) {
		struct rollup_result rr;
		if (store_rollup(st, cfg.retention_days, &rr, err,
		                 sizeof(err))) {
			fprintf(stderr, "billingd: %s\n", err);
			rc = 1;
		} else {
			printf("rolled up %" PRIu64 " deltas\n", rr.rolled);
		}
	} else {
		static struct link l;
		static struct daemon d;
		link_init(&l);
		d = (struct daemon){.cfg = &cfg, .st = st, .l = &l};
		session_init(&d.s, &cfg, st, &l);
		blog(LOG_INFO, "database %s (WAL, synchronous=%s), link %s",
		     cfg.database, cfg.sync_full ? "FULL" : "NORMAL",
		     cfg.link_socket);
		if (billing_seed_plans(st, cfg.billing_config, err,
		                       sizeof(err))) {
			fprintf(stderr, "billingd: %s\n", err);
			rc = 2;
		} else if (start_api(&d, err, sizeof(err))) {
			fprintf(stderr, "billingd: %s\n", err);
			rc = 1;
		} else {
			rc = run(&d);
			api_stop(d.api);
		}
		session_free(&d.s);
		link_free(&l);
	}
	store_close(st);
	return rc;
}
