/*
 * hvsim I/O model; see sim_io.h for the states a request goes through and
 * docs/hvsim.md for the reasons.
 *
 * Every change happens in pump(): it completes what the disk has finished,
 * issues freed slots that need no CPU, and admits queued requests in order
 * until the bucket pair refuses the head, which then waits until the exact
 * retry time tb_pair_consume() returned. Nothing polls: the engine calls
 * io_advance() at io_next_event(). pump() loops because with a zero disk
 * latency an admission completes, and with a zero CPU cost is reissued, at
 * the same instant; it stops once the buckets refuse (the validation rejects
 * the one setting that could not stop: no limit, no CPU cost, no latency).
 */
#include "sim_io.h"

#include <stdlib.h>

#define NONE UINT64_MAX

static void pump(struct io_rt *io, uint64_t now);

int io_init(struct io_rt *io, const struct scn_domain *sd, uint64_t now)
{
	const struct scn_io *c = &sd->io;
	*io = (struct io_rt){
		.cfg = c,
		.cpu_ns = c->cpu_us * NS_PER_US,
		.lat_ns = c->latency_us * NS_PER_US,
		.free = (uint32_t)c->queue_depth,
		.retry_at = NONE,
		.held_since = NONE,
	};
	io->done_at = calloc(c->queue_depth, sizeof(*io->done_at));
	if (!io->done_at)
		return -1;
	struct tb_limits bytes = { .capacity = scn_io_capacity_bytes(c),
		                   .rate_per_s = c->bps,
		                   .burst = c->burst_bytes };
	struct tb_limits ops = { .capacity = scn_io_capacity_ops(c),
		                 .rate_per_s = c->iops,
		                 .burst = c->burst_ops };
	if (tb_pair_init(&io->tb, &bytes, &ops, now))
		return -1;
	io_advance(io, now);
	return 0;
}

int io_reconfigure(struct io_rt *io, uint64_t now)
{
	const struct scn_io *c = io->cfg;
	struct tb_limits bytes = { .capacity = scn_io_capacity_bytes(c),
		                   .rate_per_s = c->bps,
		                   .burst = c->burst_bytes };
	struct tb_limits ops = { .capacity = scn_io_capacity_ops(c),
		                 .rate_per_s = c->iops,
		                 .burst = c->burst_ops };
	int rc = tb_pair_reconfigure(&io->tb, &bytes, &ops, now);
	if (rc)
		return rc;
	/* The head's retry time was computed under the old limits: try it
	 * again now; pump() sets the new time if it is still refused. */
	io->retry_at = NONE;
	pump(io, now);
	return 0;
}

void io_free(struct io_rt *io)
{
	free(io->done_at);
	io->done_at = NULL;
}

bool io_wants_cpu(const struct io_rt *io)
{
	return io->free > 0 && io->cpu_ns > 0;
}

/* Request number `seq` (0-based, in completion order, which is issue order)
 * is a read iff floor((seq + 1) * pct / 100) > floor(seq * pct / 100): of
 * any first k requests, floor(k * pct / 100) are reads. */
static bool is_read(uint64_t seq, uint64_t pct)
{
	return (seq + 1) * pct / 100 > seq * pct / 100;
}

static void complete_one(struct io_rt *io)
{
	uint64_t seq = sim_io_ops(&io->st);
	if (is_read(seq, io->cfg->mix_read_pct)) {
		io->st.read_ops++;
		io->st.read_bytes += io->cfg->req_bytes;
	} else {
		io->st.write_ops++;
		io->st.write_bytes += io->cfg->req_bytes;
	}
	io->head = (io->head + 1) % (uint32_t)io->cfg->queue_depth;
	io->inflight--;
	io->free++;
}

/* Try the head of the queue at `now`. True if it was admitted. */
static bool admit_head(struct io_rt *io, uint64_t now)
{
	ns_t retry;
	if (!tb_pair_consume(&io->tb, io->cfg->req_bytes, 1, now, &retry)) {
		/* Never NS_INVALID: capacity >= one request, and the
		 * limits keep every wait far inside ns_t. */
		if (io->held_since == NONE)
			io->held_since = now;
		io->retry_at = retry;
		return false;
	}
	if (io->held_since != NONE) {
		io->st.throttled_ns += now - io->held_since;
		io->held_since = NONE;
	}
	io->retry_at = NONE;
	io->queued--;
	uint32_t qd = (uint32_t)io->cfg->queue_depth;
	io->done_at[(io->head + io->inflight) % qd] = now + io->lat_ns;
	io->inflight++;
	return true;
}

static void pump(struct io_rt *io, uint64_t now)
{
	bool progress = true;
	while (progress) {
		progress = false;
		while (io->inflight && io->done_at[io->head] <= now) {
			complete_one(io);
			progress = true;
		}
		if (io->cpu_ns == 0) {
			io->st.issued += io->free;
			io->queued += io->free;
			io->free = 0;
		}
		while (io->queued && (io->retry_at == NONE ||
		                      io->retry_at <= now)) {
			if (!admit_head(io, now))
				break;
			progress = true;
		}
	}
}

void io_submit(struct io_rt *io, uint64_t now)
{
	io->free--;
	io->queued++;
	io->st.issued++;
	pump(io, now);
}

void io_advance(struct io_rt *io, uint64_t now)
{
	pump(io, now);
}

uint64_t io_next_event(const struct io_rt *io)
{
	uint64_t t = NONE;
	if (io->inflight)
		t = io->done_at[io->head];
	if (io->queued && io->retry_at < t)
		t = io->retry_at;
	return t;
}

void io_result(const struct io_rt *io, uint64_t end, struct sim_io *out)
{
	*out = io->st;
	if (io->held_since != NONE && end > io->held_since)
		out->throttled_ns += end - io->held_since;
	out->queued = io->queued;
	out->inflight = io->inflight;
}
