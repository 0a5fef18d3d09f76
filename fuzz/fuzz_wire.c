/*
 * libFuzzer target for the management-link decoder (accounting/wire.h):
 * stream decoding and message decoding of arbitrary bytes, cut into chunks
 * whose sizes the input also chooses.
 *
 * Input: byte 0 seeds the chunk sizes, the rest is the byte stream. Besides
 * ASan/UBSan finding crashes and out-of-bounds reads, the target checks:
 *   - every byte fed is accounted for exactly once (frames + rejects);
 *   - every delivered frame has a good header CRC and frame CRC;
 *   - a message that decodes re-encodes to exactly the same frame bytes (the
 *     encoding is canonical: reserved bytes zero, names NUL-padded, exact
 *     lengths), so the decoder accepts nothing the encoder would not write;
 *   - the decoder invariants hold after every call (wire_decoder_check).
 *
 * Built with -DFUZZ_SEEDGEN it is instead a seed generator: `wire_seedgen
 * DIR` writes one valid frame of every message type, op and event kind (and
 * one stream of them all) into DIR, each prefixed with the chunk byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounting/crc32c.h"
#include "accounting/wire.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr,                                        \
			        "fuzz_wire: check failed: %s (%s:%d)\n", #c,   \
			        __FILE__, __LINE__);                           \
			abort();                                               \
		}                                                              \
	} while (0)

#ifndef FUZZ_SEEDGEN

static struct wire_decoder dec;
static struct wire_msg msg;
static uint8_t reenc[WIRE_FRAME_MAX];

static void check_frame(const struct wire_rx *rx)
{
	const uint8_t *p = rx->frame.payload - WIRE_HDR_SIZE;
	uint32_t len = rx->frame.len;
	enum wire_reason why;

	CHECK(len <= WIRE_MAX_PAYLOAD);
	CHECK(rx->bytes == WIRE_HDR_SIZE + len + WIRE_TRAILER_SIZE);
	CHECK(crc32c(0, p, 20) == wire_get_le32(p + 20));
	CHECK(crc32c(0, p, WIRE_HDR_SIZE + len) ==
	      wire_get_le32(p + WIRE_HDR_SIZE + len));
	why = wire_msg_decode(&rx->frame, &msg);
	CHECK(why == WIRE_OK || why == WIRE_REJ_MSG_LENGTH ||
	      why == WIRE_REJ_MSG_FIELD);
	if (why == WIRE_OK) {
		int n = wire_encode(&msg, rx->frame.seq, rx->frame.flags, reenc,
		                    sizeof(reenc));

		CHECK(n == (int)rx->bytes);
		CHECK(memcmp(reenc, p, rx->bytes) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_rx rx;
	uint64_t accounted = 0;
	uint32_t rng;
	size_t pos = 1;

	if (size < 1)
		return 0;
	rng = data[0] * 2654435761u + 1;
	wire_decoder_init(&dec);
	while (pos < size) {
		size_t chunk;

		rng = rng * 1103515245u + 12345u;
		/* Mostly small chunks (the interesting splits), sometimes
		 * everything at once. */
		chunk = (rng >> 16) % 8 == 0 ? size : 1 + (rng >> 16) % 64;
		if (chunk > size - pos)
			chunk = size - pos;
		while (chunk > 0) {
			size_t took =
			    wire_decoder_feed(&dec, data + pos, chunk);

			pos += took;
			chunk -= took;
			while (wire_decoder_next(&dec, &rx) != WIRE_RX_NONE) {
				wire_decoder_check(&dec);
				accounted += rx.bytes;
				if (rx.kind == WIRE_RX_FRAME)
					check_frame(&rx);
				else
					CHECK(rx.reason > WIRE_OK &&
					      rx.reason < WIRE_REJ_COUNT);
			}
		}
	}
	while (wire_decoder_finish(&dec, &rx) != WIRE_RX_NONE) {
		accounted += rx.bytes;
		if (rx.kind == WIRE_RX_FRAME)
			check_frame(&rx);
	}
	CHECK(dec.head == dec.tail);
	CHECK(accounted == size - 1);
	return 0;
}

#else /* FUZZ_SEEDGEN */

static struct wire_msg m;
static uint8_t frame[WIRE_FRAME_MAX];
static uint8_t all[64 * WIRE_FRAME_MAX];
static size_t all_len;

static void domain(struct wire_domain *d, domid_t id)
{
	d->domid = id;
	d->state = WIRE_DOM_RUNNING;
	snprintf(d->name, sizeof(d->name), "dom-%u", id);
	d->memory_mb = 128;
	d->sched.cpu_weight = 256;
	d->sched.cpu_cap_pct = 50;
	d->sched.warp_us = 1000;
	d->io.io_bps = 1 << 20;
	d->mem.memory_max_mb = 512;
}

static void usage(struct wire_usage *u, uint32_t n)
{
	u->boot_id = 0xB007B007;
	u->mono_ns = 123456789;
	u->next = DOMID_INVALID;
	u->count = n;
	for (uint32_t i = 0; i < n; i++) {
		u->e[i].domid = i;
		for (unsigned k = 0; k < USAGE_NFIELDS; k++)
			*usage_field(&u->e[i].c, k) = (uint64_t)(i + 1) << k;
	}
}

static void emit(const char *dir, const char *name, uint64_t seq)
{
	char path[4096];
	FILE *f;
	int n = wire_encode(&m, seq, 0, frame, sizeof(frame));

	CHECK(n > 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(fputc((int)(seq & 0xff), f) != EOF);
	CHECK(fwrite(frame, 1, (size_t)n, f) == (size_t)n);
	CHECK(fclose(f) == 0);
	if (all_len + (size_t)n <= sizeof(all)) {
		memcpy(all + all_len, frame, (size_t)n);
		all_len += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	char name[64];
	uint64_t seq = 1;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	memset(&m, 0, sizeof(m));
	m.type = WIRE_HELLO;
	m.u.hello.role = WIRE_ROLE_HYPERVISOR;
	m.u.hello.proto_min = m.u.hello.proto_max = 1;
	m.u.hello.boot_id = 0xB007B007;
	m.u.hello.tsc_hz = 3000000000ull;
	m.u.hello.count = m.u.hello.total_domains = 3;
	for (unsigned i = 0; i < 3; i++)
		domain(&m.u.hello.d[i], i + 1);
	emit(argv[1], "hello", seq++);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_METER;
	usage(&m.u.meter, 4);
	emit(argv[1], "meter", seq++);

	memset(&m, 0, sizeof(m));
	m.type = WIRE_ACK;
	m.u.ack.boot_id = 0xB007B007;
	m.u.ack.seq = 2;
	emit(argv[1], "ack", seq++);

	for (unsigned op = 1; op <= WIRE_OP_MAX; op++) {
		struct wire_cmd *c = &m.u.cmd;

		memset(&m, 0, sizeof(m));
		m.type = WIRE_CMD;
		c->request_id = op;
		c->op = (uint16_t)op;
		c->domid = 5;
		if (op == WIRE_OP_LIST_DOMAINS || op == WIRE_OP_CREATE ||
		    op == WIRE_OP_SHUTDOWN)
			c->domid = DOMID_INVALID;
		if (op == WIRE_OP_SET_SHARES)
			c->u.shares.cpu_weight = 512;
		if (op == WIRE_OP_SET_IO_LIMITS)
			c->u.io.io_iops = 100;
		if (op == WIRE_OP_SET_MEM_LIMITS)
			c->u.mem.memory_max_mb = 64;
		if (op == WIRE_OP_CREATE) {
			strcpy(c->u.create.image, "io_hog.elf");
			strcpy(c->u.create.name, "tenant-1");
			c->u.create.memory_mb = 64;
			c->u.create.sched.cpu_weight = 256;
			strcpy(c->u.create.args, "--rate=10 --size 4096");
			c->u.create.args_len =
			    (uint32_t)strlen(c->u.create.args);
		}
		snprintf(name, sizeof(name), "cmd-%u", op);
		emit(argv[1], name, seq++);

		struct wire_resp *r = &m.u.resp;

		memset(&m, 0, sizeof(m));
		m.type = WIRE_RESP;
		r->request_id = op;
		r->op = (uint16_t)op;
		if (op == WIRE_OP_LIST_DOMAINS) {
			r->u.list.count = 2;
			r->u.list.next = DOMID_INVALID;
			domain(&r->u.list.d[0], 1);
			domain(&r->u.list.d[1], 2);
		} else if (op == WIRE_OP_GET_USAGE) {
			usage(&r->u.usage, 2);
		} else if (op == WIRE_OP_CREATE) {
			r->u.created = 9;
		} else if (op == WIRE_OP_DESTROY) {
			r->status = -2;
		}
		snprintf(name, sizeof(name), "resp-%u", op);
		emit(argv[1], name, seq++);
	}
	for (unsigned k = 1; k <= WIRE_EV_KIND_MAX; k++) {
		struct wire_event *e = &m.u.event;

		memset(&m, 0, sizeof(m));
		m.type = WIRE_EVENT;
		e->boot_id = 0xB007B007;
		e->domid = 3;
		e->kind = (uint16_t)k;
		e->why = k == WIRE_EV_CRASHED  ? WIRE_WHY_FAULT_GP
		         : k == WIRE_EV_KILLED ? WIRE_WHY_KILL_BAD_HYPERCALL
		         : k == WIRE_EV_QUOTA  ? WIRE_WHY_QUOTA_IO
		                               : WIRE_WHY_NONE;
		strcpy(e->name, "dom-3");
		snprintf(name, sizeof(name), "event-%u", k);
		emit(argv[1], name, seq++);
	}
	snprintf(name, sizeof(name), "%s/stream", argv[1]);
	f = fopen(name, "wb");
	CHECK(f != NULL);
	CHECK(fputc(7, f) != EOF);
	CHECK(fwrite(all, 1, all_len, f) == all_len);
	CHECK(fclose(f) == 0);
	return 0;
}

#endif
