/*
 * hvsim --serve-link: the simulator as the hypervisor's end of the
 * management link (docs/management-protocol.md), so billingd and hvctl can
 * be run and tested without QEMU and at the scale of a large host.
 *
 * The domains of the scenario run in the hvsim engine (the real sched/ and
 * accounting/ code) on a simulated clock that advances `speed` times as
 * fast as the wall clock (speed 0: as fast as the controller acknowledges).
 * Every meter_interval_ms of simulated time every live domain's cumulative
 * counters go out as METER records; domain life-cycle changes as EVENT
 * records; CMDs are carried out against the simulated domains. Unacknowledged
 * records stay in a bounded replay buffer (tools/link/replay.h) and are
 * resent after the controller reconnects. docs/hvsim.md section 5 has the
 * details and the options.
 */
#ifndef HVSIM_SERVE_H
#define HVSIM_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

struct serve_opts {
	const char *path;           /* UNIX socket to listen on */
	uint64_t speed;             /* simulated s per wall s; 0: ACK-paced */
	uint64_t meter_interval_ms; /* simulated; default 1000 */
	uint64_t run_ms;            /* stop the clock here (0: never) */
	size_t replay_bytes;        /* replay buffer bound */
	size_t max_domains;         /* room for domains created live */
	uint64_t boot_id;           /* 0: random */
	const char *dump_path;      /* final state as JSON, or NULL */
	bool check;                 /* sched_check() after every decision */
	bool quiet;                 /* no log lines on stderr */
};

/* Serve sc (whose domains start at time 0) until SIGTERM/SIGINT or a
 * SHUTDOWN command. Returns the exit status: 0, 1 (the simulation failed),
 * 2 (could not listen). */
int serve_run(struct scenario *sc, const struct serve_opts *o);

/* Append n generated domains (a mix of workloads, names dom-00001 ...) to
 * sc, for --domains. 0 or -1 with err. */
int serve_generate(struct scenario *sc, size_t n, char *err, size_t errlen);

#endif
