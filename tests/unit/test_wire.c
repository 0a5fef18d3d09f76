/*
 * The management-link wire format (accounting/wire.h): every message
 * survives encode -> stream decode -> message decode unchanged; the stream
 * decoder gives the same results however the bytes are chunked; every kind
 * of damage is rejected with its own reason and never costs the good frame
 * behind it; random damage never crashes the decoder (ASan/UBSan build) and
 * never gets a frame with a failing CRC delivered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tools/common/rng.h"

#include "accounting/crc32c.h"
#include "accounting/wire.h"
#include "fs_errors.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
	return rng_next(&rng_state);
}

/* ---- Sample messages: every type, every op, every event kind ---- */

static void fill_sched(struct wire_sched_params *s)
{
	s->cpu_weight = 1 + (uint32_t)(rnd() % 65535);
	s->cpu_cap_pct = (uint32_t)(rnd() % 101);
	s->warp_us = rnd() % (WIRE_TIME_PARAM_MAX_US + 1);
	s->warp_limit_us = rnd() % (WIRE_TIME_PARAM_MAX_US + 1);
	s->unwarp_us = WIRE_TIME_PARAM_MAX_US;
}

static void fill_domain(struct wire_domain *d, domid_t id)
{
	d->domid = id;
	d->state = (uint8_t)(1 + rnd() % WIRE_DOM_STATE_MAX);
	if (id == 7)
		strcpy(d->name, "Az09_.-abcdefghijklmnopqrstuvwx"); /* 31 */
	else
		snprintf(d->name, sizeof(d->name), "web-%u.prod_x", id);
	d->memory_mb = 1 + rnd() % 65536;
	fill_sched(&d->sched);
	d->io.io_bps = rnd();
	d->io.io_iops = rnd();
	d->io.io_burst_bytes = rnd();
	d->io.io_burst_ops = rnd();
	d->mem.memory_max_mb = rnd();
	d->mem.mem_growth_pages_per_s = rnd();
	d->mem.mem_growth_burst_pages = 0;
}

static void fill_usage(struct wire_usage *u, uint32_t count, domid_t first)
{
	u->boot_id = rnd();
	u->mono_ns = rnd();
	u->count = count;
	u->next = DOMID_INVALID;
	for (uint32_t i = 0; i < count; i++) {
		u->e[i].domid = first + i * 3;
		for (unsigned k = 0; k < WIRE_NCOUNTERS; k++)
			*usage_field(&u->e[i].c, k) = rnd();
	}
}

#define N_SAMPLES 42

/* Sample i (0 <= i < N_SAMPLES) into *m, which is zeroed first so that
 * decoded and original can be compared with memcmp. */
static void sample(int i, struct wire_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (i <= 2) {
		struct wire_hello *h = &m->u.hello;
		uint32_t n = i == 0 ? 3 : i == 1 ? WIRE_MAX_BATCH : 0;

		m->type = WIRE_HELLO;
		h->role = i == 2 ? WIRE_ROLE_CONTROLLER : WIRE_ROLE_HYPERVISOR;
		h->proto_min = 1;
		h->proto_max = 1;
		h->boot_id = i == 2 ? 0 : rnd();
		h->tsc_hz = i == 2 ? 0 : 2994000000ull;
		h->mono_ns = rnd();
		h->count = n;
		h->total_domains = n + (i == 0 ? 10 : 0);
		for (uint32_t k = 0; k < n; k++)
			fill_domain(&h->d[k], 1 + k * 2);
	} else if (i <= 5) {
		m->type = WIRE_METER;
		fill_usage(&m->u.meter,
		           i == 3   ? 0
		           : i == 4 ? 1
		                    : WIRE_MAX_BATCH,
		           0);
	} else if (i == 6) {
		m->type = WIRE_ACK;
		m->u.ack.boot_id = rnd();
		m->u.ack.seq = rnd();
	} else if (i <= 17) {
		struct wire_cmd *c = &m->u.cmd;

		m->type = WIRE_CMD;
		c->request_id = rnd();
		c->op = (uint16_t)(i == 17 ? WIRE_OP_CREATE : i - 6);
		c->domid = 42;
		switch (c->op) {
		case WIRE_OP_LIST_DOMAINS:
			c->domid = DOMID_INVALID;
			c->u.cursor = 17;
			break;
		case WIRE_OP_GET_USAGE:
			break;
		case WIRE_OP_SET_SHARES:
			fill_sched(&c->u.shares);
			break;
		case WIRE_OP_SET_IO_LIMITS:
			c->u.io.io_bps = 10 << 20;
			c->u.io.io_iops = 500;
			c->u.io.io_burst_bytes = 1 << 20;
			c->u.io.io_burst_ops = 64;
			break;
		case WIRE_OP_SET_MEM_LIMITS:
			c->u.mem.memory_max_mb = 2048;
			c->u.mem.mem_growth_pages_per_s = 4096;
			c->u.mem.mem_growth_burst_pages = 8192;
			break;
		case WIRE_OP_CREATE: {
			struct wire_create *k = &c->u.create;

			c->domid = DOMID_INVALID;
			strcpy(k->image, "cpu_hog.elf");
			strcpy(k->name, "tenant-7.web");
			k->memory_mb = 256;
			fill_sched(&k->sched);
			k->io.io_bps = 1;
			k->args_len = i == 17 ? WIRE_ARGS_MAX : 17;
			for (uint32_t a = 0; a < k->args_len; a++)
				k->args[a] = (char)(0x20 + a % 95);
			break;
		}
		case WIRE_OP_SHUTDOWN:
			c->domid = DOMID_INVALID;
			break;
		default:
			break;
		}
	} else if (i <= 31) {
		struct wire_resp *r = &m->u.resp;

		m->type = WIRE_RESP;
		r->request_id = rnd();
		r->op = (uint16_t)(i <= 27 ? i - 17 : i == 28 ? 1 : 2);
		if (i == 30) {
			r->op = WIRE_OP_PAUSE;
			r->status = FS_ENOENT;
			return;
		}
		if (i == 31) {
			r->op = WIRE_OP_CREATE;
			r->status = FS_EEXIST;
			return;
		}
		switch (r->op) {
		case WIRE_OP_LIST_DOMAINS: {
			uint32_t n = i == 28 ? WIRE_MAX_BATCH : 5;

			r->u.list.count = n;
			r->u.list.next = i == 28 ? 1000 : DOMID_INVALID;
			for (uint32_t k = 0; k < n; k++)
				fill_domain(&r->u.list.d[k], 3 + k);
			break;
		}
		case WIRE_OP_GET_USAGE:
			fill_usage(&r->u.usage, i == 29 ? WIRE_MAX_BATCH : 1,
			           1);
			if (i == 29)
				r->u.usage.next = 5000;
			break;
		case WIRE_OP_CREATE:
			r->u.created = 77;
			break;
		default:
			break;
		}
	} else if (i <= 39) {
		struct wire_event *e = &m->u.event;
		static const uint16_t why[WIRE_EV_KIND_MAX + 1] = {
		    [WIRE_EV_CRASHED] = WIRE_WHY_FAULT_PAGE,
		    [WIRE_EV_KILLED] = WIRE_WHY_KILL_PRIVILEGED,
		    [WIRE_EV_QUOTA] = WIRE_WHY_QUOTA_MEM_GROWTH,
		};

		m->type = WIRE_EVENT;
		e->boot_id = rnd();
		e->mono_ns = rnd();
		e->domid = 9;
		e->kind = (uint16_t)(i - 31);
		e->why = why[e->kind];
		e->detail = rnd();
		strcpy(e->name, "db-primary");
	} else {
		/* i == 40, 41: more CMDs: one-domain list, all-usage page. */
		struct wire_cmd *c = &m->u.cmd;

		m->type = WIRE_CMD;
		c->request_id = 1;
		c->op = i == 40 ? WIRE_OP_LIST_DOMAINS : WIRE_OP_GET_USAGE;
		c->domid = i == 40 ? 5 : DOMID_INVALID;
		c->u.cursor = i == 40 ? 0 : 300;
	}
}

/* ---- Decoding helpers ---- */

static struct wire_decoder dec;
static uint8_t frame_buf[WIRE_FRAME_MAX];
static struct wire_msg msg_a, msg_b;

struct result {
	enum wire_rx_kind kind;
	enum wire_reason reason;
	uint32_t bytes;
	uint64_t seq;
	uint32_t crc; /* of the payload, for frames */
};

#define MAX_RESULTS 4096
static struct result res_a[MAX_RESULTS], res_b[MAX_RESULTS];

static void record(struct result *r, const struct wire_rx *rx)
{
	r->kind = rx->kind;
	r->reason = rx->reason;
	r->bytes = rx->bytes;
	r->seq = rx->frame.seq;
	r->crc = rx->kind == WIRE_RX_FRAME
	             ? crc32c(0, rx->frame.payload, rx->frame.len)
	             : 0;
}

/* A delivered frame must carry correct CRCs: check them again from the
 * bytes, independently of the decoder. */
static void assert_frame_intact(const struct wire_rx *rx)
{
	const uint8_t *p = rx->frame.payload - WIRE_HDR_SIZE;

	assert_int_equal(crc32c(0, p, 20), wire_get_le32(p + 20));
	assert_int_equal(crc32c(0, p, WIRE_HDR_SIZE + rx->frame.len),
	                 wire_get_le32(p + WIRE_HDR_SIZE + rx->frame.len));
	assert_int_equal(rx->bytes,
	                 WIRE_HDR_SIZE + rx->frame.len + WIRE_TRAILER_SIZE);
}

/* Feed stream in chunks of the sizes chunk(i) returns (cycling), then
 * finish; record every result. Returns the number of results. */
static size_t decode_stream(const uint8_t *s, size_t n, size_t chunk,
                            struct result *out, bool random_chunks)
{
	struct wire_rx rx;
	size_t nres = 0, pos = 0;

	wire_decoder_init(&dec);
	while (pos < n) {
		size_t c = random_chunks ? 1 + rnd() % 300 : chunk;

		if (c > n - pos)
			c = n - pos;
		while (c > 0) {
			size_t took = wire_decoder_feed(&dec, s + pos, c);

			pos += took;
			c -= took;
			while (wire_decoder_next(&dec, &rx) != WIRE_RX_NONE) {
				if (rx.kind == WIRE_RX_FRAME)
					assert_frame_intact(&rx);
				assert_true(nres < MAX_RESULTS);
				record(&out[nres++], &rx);
			}
		}
	}
	while (wire_decoder_finish(&dec, &rx) != WIRE_RX_NONE) {
		if (rx.kind == WIRE_RX_FRAME)
			assert_frame_intact(&rx);
		assert_true(nres < MAX_RESULTS);
		record(&out[nres++], &rx);
	}
	wire_decoder_check(&dec);
	assert_int_equal(dec.head, dec.tail);
	return nres;
}

static size_t encode_sample(int i, uint64_t seq, uint8_t *out, size_t cap)
{
	int n;

	sample(i, &msg_a);
	n = wire_encode(&msg_a, seq, 0, out, cap);
	assert_true(n > 0);
	return (size_t)n;
}

/* A stream of every sample, in order, seq = index + 1. */
static uint8_t stream[N_SAMPLES * 9000];

static size_t build_stream(void)
{
	size_t n = 0;

	for (int i = 0; i < N_SAMPLES; i++)
		n += encode_sample(i, (uint64_t)i + 1, stream + n,
		                   sizeof(stream) - n);
	return n;
}

/* ---- Tests ---- */

static void every_message_round_trips_unchanged(void **state)
{
	struct wire_rx rx;

	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		size_t n = encode_sample(i, 1000 + (uint64_t)i, frame_buf,
		                         sizeof(frame_buf));

		assert_int_equal(n, WIRE_HDR_SIZE + wire_msg_size(&msg_a) +
		                        WIRE_TRAILER_SIZE);
		wire_decoder_init(&dec);
		assert_int_equal(wire_decoder_feed(&dec, frame_buf, n), n);
		assert_int_equal(wire_decoder_next(&dec, &rx), WIRE_RX_FRAME);
		assert_int_equal(rx.frame.type, msg_a.type);
		assert_int_equal(rx.frame.seq, 1000 + (uint64_t)i);
		assert_int_equal(rx.frame.version, WIRE_VERSION);
		memset(&msg_b, 0, sizeof(msg_b));
		assert_int_equal(wire_msg_decode(&rx.frame, &msg_b), WIRE_OK);
		if (memcmp(&msg_a, &msg_b, sizeof(msg_a)) != 0)
			fail_msg("sample %d differs after the round trip", i);
		assert_int_equal(wire_decoder_next(&dec, &rx), WIRE_RX_NONE);
	}
}

/* The layout in docs/management-protocol.md, byte for byte. */
static void ack_frame_has_documented_byte_layout(void **state)
{
	struct wire_msg m;
	uint8_t f[64];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_ACK;
	m.u.ack.boot_id = 0x0807060504030201ull;
	m.u.ack.seq = 0x1122334455667788ull;
	assert_int_equal(
	    wire_encode(&m, 0x0102030405060708ull, WIRE_F_RESENT, f, sizeof(f)),
	    24 + 16 + 4);
	static const uint8_t head[20] = {
	    0xF5, 0x53, 0x4D, 0x4C, 1, 3, 0x01, 0x00, 8, 7,
	    6,    5,    4,    3,    2, 1, 16,   0,    0, 0,
	};
	assert_memory_equal(f, head, 20);
	assert_int_equal(wire_get_le32(f + 20), crc32c(0, f, 20));
	assert_int_equal(wire_get_le64(f + 24), 0x0807060504030201ull);
	assert_int_equal(wire_get_le64(f + 32), 0x1122334455667788ull);
	assert_int_equal(wire_get_le32(f + 40), crc32c(0, f, 40));
}

/* METER entries: domid at +0, counters at +8 + 8k, in counters.h order. */
static void meter_entry_carries_counters_in_usage_counters_order(void **state)
{
	struct wire_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_METER;
	m.u.meter.next = DOMID_INVALID;
	m.u.meter.count = 2;
	m.u.meter.e[0].domid = 1;
	m.u.meter.e[1].domid = 4;
	m.u.meter.e[1].c.cpu_ns = 111;
	m.u.meter.e[1].c.blk_read_ops = 222;
	m.u.meter.e[1].c.mem_page_ns = 333;
	assert_true(wire_encode(&m, 1, 0, frame_buf, sizeof(frame_buf)) > 0);
	const uint8_t *e1 = frame_buf + WIRE_HDR_SIZE + WIRE_USAGE_HEAD_SIZE +
	                    WIRE_METER_ENTRY_SIZE;
	assert_int_equal(wire_get_le32(e1), 4);
	assert_int_equal(wire_get_le64(e1 + 8 + 8 * 0), 111);
	assert_int_equal(wire_get_le64(e1 + 8 + 8 * 7), 222);
	assert_int_equal(wire_get_le64(e1 + 8 + 8 * 13), 333);
}

/* However the bytes arrive (one at a time, in fixed or random chunks, cut
 * into two at any point), the decoder gives the same frames and rejects. */
static void any_chunking_of_the_stream_gives_identical_results(void **state)
{
	size_t n = build_stream();
	size_t na, nb;
	static const size_t chunks[] = {1, 2, 3, 7, 24, 25, 4096, 1 << 20};

	(void)state;
	na = decode_stream(stream, n, n, res_a, false);
	assert_int_equal(na, N_SAMPLES);
	for (size_t i = 0; i < na; i++) {
		assert_int_equal(res_a[i].kind, WIRE_RX_FRAME);
		assert_int_equal(res_a[i].seq, i + 1);
	}
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		nb = decode_stream(stream, n, chunks[c], res_b, false);
		assert_int_equal(nb, na);
		assert_memory_equal(res_a, res_b, na * sizeof(res_a[0]));
	}
	for (int r = 0; r < 5; r++) {
		nb = decode_stream(stream, n, 0, res_b, true);
		assert_int_equal(nb, na);
		assert_memory_equal(res_a, res_b, na * sizeof(res_a[0]));
	}
}

/* Two frames split at every byte position, fed as two chunks. */
static void two_frames_split_at_every_byte_are_both_delivered(void **state)
{
	struct wire_rx rx;
	size_t n1 = encode_sample(6, 1, stream, sizeof(stream));
	size_t n = n1 + encode_sample(38, 2, stream + n1, sizeof(stream) - n1);

	(void)state;
	for (size_t cut = 0; cut <= n; cut++) {
		int got = 0;

		wire_decoder_init(&dec);
		assert_int_equal(wire_decoder_feed(&dec, stream, cut), cut);
		while (wire_decoder_next(&dec, &rx) == WIRE_RX_FRAME)
			assert_int_equal(rx.frame.seq, (uint64_t)++got);
		assert_int_equal(wire_decoder_feed(&dec, stream + cut, n - cut),
		                 n - cut);
		while (wire_decoder_next(&dec, &rx) == WIRE_RX_FRAME)
			assert_int_equal(rx.frame.seq, (uint64_t)++got);
		assert_int_equal(got, 2);
		assert_int_equal(dec.rejects[WIRE_REJ_GARBAGE], 0);
	}
}

/* Line noise before, between and after frames is skipped, counted exactly,
 * and costs no frame, even noise full of magic-number prefixes. */
static void garbage_around_frames_is_skipped_and_counted(void **state)
{
	static const uint8_t noise[] = {0x00, 0xF5, 0x53, 0xF5, 0xF5,
	                                0x53, 0x4D, 0x41, 'x',  0xF5};
	size_t n = 0, nres, frames = 0;
	uint64_t garbage = 0;

	(void)state;
	for (int i = 0; i < 6; i++) {
		memcpy(stream + n, noise, sizeof(noise));
		n += sizeof(noise);
		n += encode_sample(i, (uint64_t)i + 1, stream + n,
		                   sizeof(stream) - n);
	}
	/* Trailing noise is reported at finish (noise that ends in a partial
	 * magic number would be reported as a truncated frame). */
	memcpy(stream + n, "xyz", 3);
	n += 3;
	for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
		nres = decode_stream(stream, n, chunk, res_a, false);
		frames = 0;
		garbage = 0;
		for (size_t i = 0; i < nres; i++) {
			if (res_a[i].kind == WIRE_RX_FRAME) {
				frames++;
				assert_int_equal(res_a[i].seq, frames);
			} else {
				assert_int_equal(res_a[i].reason,
				                 WIRE_REJ_GARBAGE);
				garbage += res_a[i].bytes;
			}
		}
		assert_int_equal(frames, 6);
		assert_int_equal(garbage, 6 * sizeof(noise) + 3);
	}
}

/* Build one frame by hand: payload of len bytes (a valid ACK body when len
 * is 16), then optionally damage it. */
static size_t raw_frame(uint8_t *out, uint8_t version, uint8_t type,
                        uint16_t flags, uint64_t seq, uint32_t len)
{
	int n;

	for (uint32_t i = 0; i < len; i++)
		out[WIRE_HDR_SIZE + i] = (uint8_t)(i + 1);
	n = wire_frame_seal(out, WIRE_FRAME_MAX, version, type, flags, seq,
	                    len);
	assert_true(n > 0);
	return (size_t)n;
}

/* Decode bad || good and check: the first result is `why`, the good frame
 * (seq 99) is delivered after it, and nothing but garbage comes between. */
static void expect_reject_then_good(const uint8_t *bad, size_t nbad,
                                    enum wire_reason why)
{
	size_t n, nres, i;

	memcpy(stream, bad, nbad);
	n = nbad + raw_frame(stream + nbad, WIRE_VERSION, WIRE_ACK, 0, 99, 16);
	nres = decode_stream(stream, n, 1, res_a, false);
	assert_true(nres >= 2);
	assert_int_equal(res_a[0].kind, WIRE_RX_REJECT);
	if (res_a[0].reason != why)
		fail_msg("rejected as %s, expected %s",
		         wire_reason_name(res_a[0].reason),
		         wire_reason_name(why));
	for (i = 1; i + 1 < nres; i++)
		assert_int_equal(res_a[i].reason, WIRE_REJ_GARBAGE);
	assert_int_equal(res_a[nres - 1].kind, WIRE_RX_FRAME);
	assert_int_equal(res_a[nres - 1].seq, 99);
}

static uint8_t bad[WIRE_FRAME_MAX + 64];

static void frame_with_bad_header_crc_is_rejected_as_header_crc(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0, 1, 16);

	(void)state;
	bad[9] ^= 0x10; /* the sequence number */
	expect_reject_then_good(bad, n, WIRE_REJ_HEADER_CRC);
}

/* A corrupt length field is caught by the header CRC before it is trusted:
 * the decoder neither waits for 4 GB nor skips the next frame. */
static void corrupt_length_neither_stalls_nor_skips_next_frame(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0, 1, 16);

	(void)state;
	bad[17] = 0x7f; /* len = 16 + 0x7f00 */
	expect_reject_then_good(bad, n, WIRE_REJ_HEADER_CRC);
}

static void payload_damage_is_rejected_as_frame_crc(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0, 1, 16);

	(void)state;
	bad[WIRE_HDR_SIZE + 3] ^= 1;
	expect_reject_then_good(bad, n, WIRE_REJ_FRAME_CRC);
	/* Exactly one reject, consuming the whole damaged frame. */
	assert_int_equal(res_a[0].bytes, n);
}

/* Bytes lost on the line: a frame cut short by the next frame's start. */
static void frame_cut_short_is_rejected_as_truncated(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_METER, 0, 1, 400);

	(void)state;
	expect_reject_then_good(bad, n - 100, WIRE_REJ_TRUNCATED);
	assert_int_equal(res_a[0].bytes, n - 100);
}

/* The link closes in the middle of a frame. */
static void stream_ending_inside_a_frame_is_reported_truncated(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0, 5, 16);

	(void)state;
	for (size_t cut = 1; cut < n; cut++) {
		size_t nres = decode_stream(bad, cut, 1, res_a, false);

		assert_int_equal(nres, 1);
		assert_int_equal(res_a[0].reason, WIRE_REJ_TRUNCATED);
		assert_int_equal(res_a[0].bytes, cut);
	}
}

static void length_above_max_payload_is_rejected_as_oversized(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0, 1, 16);

	(void)state;
	/* A sender bug, not line noise: the header CRC matches. */
	wire_put_le32(bad + 16, WIRE_MAX_PAYLOAD + 1);
	wire_put_le32(bad + 20, crc32c(0, bad, 20));
	expect_reject_then_good(bad, n, WIRE_REJ_OVERSIZED);
	/* And the largest legal payload is accepted. */
	n = raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0, 1, WIRE_MAX_PAYLOAD);
	assert_int_equal(decode_stream(bad, n, 1000, res_a, false), 1);
	assert_int_equal(res_a[0].kind, WIRE_RX_FRAME);
}

static void frame_of_another_version_is_rejected_as_version(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION + 1, WIRE_ACK, 0, 1, 16);

	(void)state;
	expect_reject_then_good(bad, n, WIRE_REJ_VERSION);
	assert_int_equal(res_a[0].bytes, n);
}

static void frame_of_unknown_type_is_rejected_as_unknown_type(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_TYPE_MAX + 1, 0, 1, 16);

	(void)state;
	expect_reject_then_good(bad, n, WIRE_REJ_UNKNOWN_TYPE);
	n = raw_frame(bad, WIRE_VERSION, 0, 0, 1, 16);
	expect_reject_then_good(bad, n, WIRE_REJ_UNKNOWN_TYPE);
}

static void frame_with_reserved_flags_is_rejected_as_flags(void **state)
{
	size_t n = raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0x8000, 1, 16);

	(void)state;
	expect_reject_then_good(bad, n, WIRE_REJ_FLAGS);
}

static void reject_reasons_have_distinct_names(void **state)
{
	(void)state;
	for (int a = 0; a < WIRE_REJ_COUNT; a++) {
		assert_string_not_equal(wire_reason_name(a), "?");
		for (int b = a + 1; b < WIRE_REJ_COUNT; b++)
			assert_string_not_equal(wire_reason_name(a),
			                        wire_reason_name(b));
	}
	assert_string_equal(wire_reason_name(WIRE_REJ_COUNT), "?");
}

/* Encode sample i, let patch() damage the payload, reseal (the frame is
 * intact, the message is not) and message-decode it. */
static enum wire_reason decode_patched(int i,
                                       void (*patch)(uint8_t *p, uint32_t *len))
{
	struct wire_frame f;
	uint32_t len;
	size_t n = encode_sample(i, 1, frame_buf, sizeof(frame_buf));

	len = (uint32_t)(n - WIRE_HDR_SIZE - WIRE_TRAILER_SIZE);
	patch(frame_buf + WIRE_HDR_SIZE, &len);
	assert_true(wire_frame_seal(frame_buf, sizeof(frame_buf), WIRE_VERSION,
	                            msg_a.type, 0, 1, len) > 0);
	f.version = WIRE_VERSION;
	f.type = msg_a.type;
	f.flags = 0;
	f.seq = 1;
	f.payload = frame_buf + WIRE_HDR_SIZE;
	f.len = len;
	return wire_msg_decode(&f, &msg_b);
}

static void p_trailing_byte(uint8_t *p, uint32_t *len)
{
	p[(*len)++] = 0;
}
static void p_drop_byte(uint8_t *p, uint32_t *len)
{
	(void)p;
	(*len)--;
}
static void p_meter_count_too_big(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le32(p + 16, wire_get_le32(p + 16) + 1);
}
static void p_meter_count_huge(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le32(p + 16, 0xFFFFFFFFu);
}
static void p_meter_reserved(uint8_t *p, uint32_t *len)
{
	(void)len;
	p[WIRE_USAGE_HEAD_SIZE + 5] = 1; /* entry 0's pad */
}
static void p_meter_unsorted(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le32(p + WIRE_USAGE_HEAD_SIZE + WIRE_METER_ENTRY_SIZE, 0);
}
static void p_weight_zero(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le32(p + 16, 0);
}
static void p_cap_101(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le32(p + 20, 101);
}
static void p_warp_too_long(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le64(p + 24, WIRE_TIME_PARAM_MAX_US + 1);
}
static void p_unknown_op(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le16(p + 8, WIRE_OP_MAX + 1);
}
static void p_name_slash(uint8_t *p, uint32_t *len)
{
	(void)len;
	p[48 + 2] = '/'; /* CREATE domain name */
}
static void p_name_32_bytes(uint8_t *p, uint32_t *len)
{
	(void)len;
	memset(p + 48, 'a', 32);
}
static void p_name_junk_after_nul(uint8_t *p, uint32_t *len)
{
	(void)len;
	p[48 + 30] = 'a';
}
static void p_name_empty(uint8_t *p, uint32_t *len)
{
	(void)len;
	memset(p + 48, 0, 32);
}
static void p_args_control_char(uint8_t *p, uint32_t *len)
{
	(void)len;
	p[WIRE_CREATE_FIXED_SIZE] = '\n';
}
static void p_args_len_lies(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le32(p + 152, wire_get_le32(p + 152) + 1);
}
static void p_event_kind_bad(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le16(p + 20, WIRE_EV_KIND_MAX + 1);
}
static void p_event_why_wrong_group(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le16(p + 22, WIRE_WHY_QUOTA_IO); /* on a CRASHED event */
}
static void p_resp_status_positive(uint8_t *p, uint32_t *len)
{
	(void)len;
	wire_put_le32(p + 12, 5);
}
static void p_hello_role(uint8_t *p, uint32_t *len)
{
	(void)len;
	p[0] = 9;
}
static void p_domain_state(uint8_t *p, uint32_t *len)
{
	(void)len;
	p[WIRE_HELLO_HEAD_SIZE + 4] = 0;
}

static void malformed_messages_are_rejected_with_length_or_field(void **state)
{
	(void)state;
	/* Size problems: MSG_LENGTH. */
	assert_int_equal(decode_patched(6, p_trailing_byte),
	                 WIRE_REJ_MSG_LENGTH);
	assert_int_equal(decode_patched(6, p_drop_byte), WIRE_REJ_MSG_LENGTH);
	assert_int_equal(decode_patched(0, p_drop_byte), WIRE_REJ_MSG_LENGTH);
	assert_int_equal(decode_patched(5, p_meter_count_too_big),
	                 WIRE_REJ_MSG_LENGTH);
	assert_int_equal(decode_patched(4, p_meter_count_huge),
	                 WIRE_REJ_MSG_LENGTH);
	assert_int_equal(decode_patched(15, p_args_len_lies),
	                 WIRE_REJ_MSG_LENGTH);
	assert_int_equal(decode_patched(38, p_trailing_byte),
	                 WIRE_REJ_MSG_LENGTH);
	/* Content problems: MSG_FIELD. */
	assert_int_equal(decode_patched(5, p_meter_reserved),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(5, p_meter_unsorted),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(9, p_weight_zero), WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(9, p_cap_101), WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(9, p_warp_too_long),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(9, p_unknown_op), WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(15, p_name_slash), WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(15, p_name_32_bytes),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(15, p_name_junk_after_nul),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(15, p_name_empty), WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(15, p_args_control_char),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(35, p_event_kind_bad),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(35, p_event_why_wrong_group),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(30, p_resp_status_positive),
	                 WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(0, p_hello_role), WIRE_REJ_MSG_FIELD);
	assert_int_equal(decode_patched(0, p_domain_state), WIRE_REJ_MSG_FIELD);
}

/* The encoder refuses what the decoder would refuse: nothing invalid is
 * ever put on the link. */
static void encoder_refuses_invalid_messages(void **state)
{
	(void)state;
	sample(9, &msg_a); /* SET_SHARES */
	msg_a.u.cmd.u.shares.cpu_weight = 0;
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0, frame_buf, sizeof(frame_buf)), FS_EINVAL);
	sample(9, &msg_a);
	msg_a.u.cmd.u.shares.cpu_weight = 65536;
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0, frame_buf, sizeof(frame_buf)), FS_EINVAL);
	sample(9, &msg_a);
	msg_a.u.cmd.domid = DOMID_HYPERVISOR;
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0, frame_buf, sizeof(frame_buf)), FS_EINVAL);
	sample(15, &msg_a); /* CREATE */
	strcpy(msg_a.u.cmd.u.create.name, "bad name");
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0, frame_buf, sizeof(frame_buf)), FS_EINVAL);
	sample(15, &msg_a);
	msg_a.u.cmd.u.create.args_len = WIRE_ARGS_MAX + 1;
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0, frame_buf, sizeof(frame_buf)), FS_EINVAL);
	sample(5, &msg_a); /* METER */
	msg_a.u.meter.count = WIRE_MAX_BATCH + 1;
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0, frame_buf, sizeof(frame_buf)), FS_EINVAL);
	sample(6, &msg_a);
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0x0100, frame_buf, sizeof(frame_buf)),
	    FS_EINVAL);
	msg_a.type = 0;
	assert_int_equal(
	    wire_encode(&msg_a, 1, 0, frame_buf, sizeof(frame_buf)), FS_EINVAL);
	/* Too small a buffer: FS_E2BIG, not an overflow. */
	sample(6, &msg_a);
	assert_int_equal(wire_encode(&msg_a, 1, 0, frame_buf, 43), FS_E2BIG);
	assert_int_equal(wire_encode(&msg_a, 1, 0, frame_buf, 44), 44);
	assert_int_equal(wire_frame_seal(frame_buf, sizeof(frame_buf), 1, 1, 0,
	                                 1, WIRE_MAX_PAYLOAD + 1),
	                 FS_E2BIG);
}

/* Flip a byte anywhere in the first of two frames: the first is rejected
 * (never delivered damaged), the second always arrives. */
static void any_damaged_byte_costs_only_its_own_frame(void **state)
{
	size_t n1 = encode_sample(0, 1, bad, sizeof(bad));
	size_t n2 = encode_sample(6, 2, bad + n1, sizeof(bad) - n1);

	(void)state;
	for (size_t pos = 0; pos < n1; pos++) {
		size_t nres, frames = 0;

		memcpy(stream, bad, n1 + n2);
		stream[pos] ^= (uint8_t)(1 + rnd() % 255);
		nres = decode_stream(stream, n1 + n2, 13, res_a, false);
		for (size_t i = 0; i < nres; i++) {
			if (res_a[i].kind != WIRE_RX_FRAME)
				continue;
			frames++;
			assert_int_equal(res_a[i].seq, 2);
		}
		assert_int_equal(frames, 1);
	}
}

/* Random bit flips, dropped and inserted bytes over a long stream: the
 * decoder never crashes or reads out of bounds (ASan), every delivered
 * frame has good CRCs and is one that was sent, and undamaged frames far
 * from any damage still arrive. */
static void random_damage_never_crashes_or_delivers_bad_frames(void **state)
{
	static uint8_t dmg[sizeof(stream) + 4096];
	size_t n = build_stream();

	(void)state;
	for (int round = 0; round < 60; round++) {
		size_t m = 0, nres, frames = 0;
		int damage = 1 + (int)(rnd() % 20);

		for (size_t i = 0; i < n; i++) {
			uint64_t r = rnd() % (n / (size_t)damage);

			if (r == 0) { /* drop */
				continue;
			} else if (r == 1) { /* insert */
				dmg[m++] = (uint8_t)rnd();
			} else if (r == 2) { /* flip */
				dmg[m++] =
				    stream[i] ^ (uint8_t)(1u << rnd() % 8);
				continue;
			}
			dmg[m++] = stream[i];
		}
		nres = decode_stream(dmg, m, 0, res_a, true);
		for (size_t i = 0; i < nres; i++) {
			if (res_a[i].kind == WIRE_RX_FRAME) {
				frames++;
				assert_true(res_a[i].seq >= 1 &&
				            res_a[i].seq <= N_SAMPLES);
			}
		}
		assert_true(frames <= N_SAMPLES);
	}
	/* Pure noise: nothing delivered, everything accounted for. */
	for (size_t i = 0; i < sizeof(dmg); i++)
		dmg[i] = (uint8_t)(rnd() % 4 == 0 ? 0xF5 : rnd());
	size_t nres = decode_stream(dmg, sizeof(dmg), 0, res_a, true);
	uint64_t bytes = 0;

	for (size_t i = 0; i < nres; i++) {
		assert_int_equal(res_a[i].kind, WIRE_RX_REJECT);
		bytes += res_a[i].bytes;
	}
	assert_int_equal(bytes, sizeof(dmg));
}

/* Every byte fed is accounted for exactly once: as part of a frame or of a
 * reject. A decoder that lost or double-counted bytes would misreport link
 * health. */
static void every_byte_is_accounted_for_once(void **state)
{
	size_t n = build_stream(), nres;
	uint64_t bytes = 0;

	(void)state;
	for (size_t i = 0; i < n; i += 1 + rnd() % 500)
		stream[i] ^= 0x40;
	nres = decode_stream(stream, n, 0, res_a, true);
	for (size_t i = 0; i < nres; i++)
		bytes += res_a[i].bytes;
	assert_int_equal(bytes, n);
}

/* A full buffer always yields a decision: feeding max-size frames back to
 * back, with a byte of noise between, never wedges the decoder. */
static void decoder_never_wedges_on_a_full_buffer(void **state)
{
	struct wire_rx rx;
	size_t n =
	    raw_frame(bad, WIRE_VERSION, WIRE_ACK, 0, 1, WIRE_MAX_PAYLOAD);
	uint64_t frames = 0;

	(void)state;
	bad[n] = 0xF5;
	wire_decoder_init(&dec);
	for (int i = 0; i < 20; i++) {
		size_t pos = 0;

		while (pos < n + 1) {
			size_t took =
			    wire_decoder_feed(&dec, bad + pos, n + 1 - pos);

			assert_true(took > 0 ||
			            dec.tail - dec.head < WIRE_DECODER_BUF);
			pos += took;
			while (wire_decoder_next(&dec, &rx) != WIRE_RX_NONE)
				frames += rx.kind == WIRE_RX_FRAME;
			assert_true(dec.tail - dec.head < WIRE_DECODER_BUF);
		}
	}
	assert_int_equal(frames, 20);
	assert_int_equal(dec.frames, 20);
}

static void names_follow_the_documented_charset(void **state)
{
	(void)state;
	assert_true(wire_name_valid("a"));
	assert_true(wire_name_valid("Web-01.prod_eu"));
	assert_true(
	    wire_name_valid("abcdefghijklmnopqrstuvwxyz01234")); /* 31 */
	assert_false(wire_name_valid(""));
	assert_false(wire_name_valid("has space"));
	assert_false(wire_name_valid("a/b"));
	assert_false(wire_name_valid("caf\xc3\xa9"));
	char long_name[40];

	memset(long_name, 'a', 32);
	long_name[32] = '\0';
	assert_false(wire_name_valid(long_name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_message_round_trips_unchanged),
	    cmocka_unit_test(ack_frame_has_documented_byte_layout),
	    cmocka_unit_test(
	        meter_entry_carries_counters_in_usage_counters_order),
	    cmocka_unit_test(
	        any_chunking_of_the_stream_gives_identical_results),
	    cmocka_unit_test(two_frames_split_at_every_byte_are_both_delivered),
	    cmocka_unit_test(garbage_around_frames_is_skipped_and_counted),
	    cmocka_unit_test(
	        frame_with_bad_header_crc_is_rejected_as_header_crc),
	    cmocka_unit_test(
	        corrupt_length_neither_stalls_nor_skips_next_frame),
	    cmocka_unit_test(payload_damage_is_rejected_as_frame_crc),
	    cmocka_unit_test(frame_cut_short_is_rejected_as_truncated),
	    cmocka_unit_test(
	        stream_ending_inside_a_frame_is_reported_truncated),
	    cmocka_unit_test(length_above_max_payload_is_rejected_as_oversized),
	    cmocka_unit_test(frame_of_another_version_is_rejected_as_version),
	    cmocka_unit_test(frame_of_unknown_type_is_rejected_as_unknown_type),
	    cmocka_unit_test(frame_with_reserved_flags_is_rejected_as_flags),
	    cmocka_unit_test(reject_reasons_have_distinct_names),
	    cmocka_unit_test(
	        malformed_messages_are_rejected_with_length_or_field),
	    cmocka_unit_test(encoder_refuses_invalid_messages),
	    cmocka_unit_test(any_damaged_byte_costs_only_its_own_frame),
	    cmocka_unit_test(
	        random_damage_never_crashes_or_delivers_bad_frames),
	    cmocka_unit_test(every_byte_is_accounted_for_once),
	    cmocka_unit_test(decoder_never_wedges_on_a_full_buffer),
	    cmocka_unit_test(names_follow_the_documented_charset),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
