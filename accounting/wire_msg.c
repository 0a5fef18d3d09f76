/*
 * Management-link messages: checking, encoding and decoding the payloads of
 * HELLO, METER, ACK, CMD, RESP and EVENT (layouts in
 * docs/management-protocol.md; types and rules in wire.h).
 *
 * One set of rules serves both directions: wire_msg_check() (wire_check.c)
 * holds every range and charset rule, the encoder refuses what it refuses
 * (so we never send what the peer would reject), and the decoder applies it
 * to what it parsed. The parser itself only answers "is the size right" and
 * "are the reserved bytes zero and the name fields well-formed"; a size problem
 * wins over a field problem, so each bad payload has one deterministic reason.
 *
 * The parser never trusts a count before comparing it with WIRE_MAX_BATCH and
 * with the bytes actually present, and every read goes through struct rd,
 * which refuses to step past the payload.
 */
#include "wire.h"

#include "fs_assert.h"
#include "fs_errors.h"

/* ---- Bounded reader and writer ---- */

struct rd {
	const uint8_t *p;
	uint32_t len, pos;
	bool short_read; /* a read ran past the end: MSG_LENGTH */
	bool bad_field;  /* reserved byte set or malformed name: MSG_FIELD */
};

static bool rd_take(struct rd *r, uint32_t n)
{
	if (r->len - r->pos < n) {
		r->short_read = true;
		r->pos = r->len;
		return false;
	}
	return true;
}

static uint8_t rd_u8(struct rd *r)
{
	if (!rd_take(r, 1))
		return 0;
	return r->p[r->pos++];
}

static uint16_t rd_u16(struct rd *r)
{
	uint16_t v;

	if (!rd_take(r, 2))
		return 0;
	v = wire_get_le16(r->p + r->pos);
	r->pos += 2;
	return v;
}

static uint32_t rd_u32(struct rd *r)
{
	uint32_t v;

	if (!rd_take(r, 4))
		return 0;
	v = wire_get_le32(r->p + r->pos);
	r->pos += 4;
	return v;
}

static uint64_t rd_u64(struct rd *r)
{
	uint64_t v;

	if (!rd_take(r, 8))
		return 0;
	v = wire_get_le64(r->p + r->pos);
	r->pos += 8;
	return v;
}

/* n reserved bytes, which must be zero. */
static void rd_zero(struct rd *r, uint32_t n)
{
	if (!rd_take(r, n))
		return;
	for (uint32_t i = 0; i < n; i++)
		if (r->p[r->pos + i] != 0)
			r->bad_field = true;
	r->pos += n;
}

/* A 32-byte name field: the name, then NUL padding to the end (so a 32-byte
 * name, with no room for the NUL, is malformed). The charset is checked by
 * wire_name_valid() in wire_msg_check(). */
static void rd_name(struct rd *r, char *out)
{
	bool nul = false;

	if (!rd_take(r, WIRE_NAME_FIELD))
		return;
	for (uint32_t i = 0; i < WIRE_NAME_FIELD; i++) {
		uint8_t c = r->p[r->pos + i];

		if (c == 0)
			nul = true;
		else if (nul)
			r->bad_field = true;
		out[i] = (char)c;
	}
	if (!nul)
		r->bad_field = true;
	out[WIRE_NAME_FIELD - 1] = '\0';
	r->pos += WIRE_NAME_FIELD;
}

/* The encoder writes into a buffer whose size was checked against
 * wire_msg_size() first, so the writer needs no bounds flag; FS_ASSERT
 * catches a size function that disagrees with the writer. */
struct wr {
	uint8_t *p;
	uint32_t len, pos;
};

static void wr_u8(struct wr *w, uint8_t v)
{
	FS_ASSERT(w->len - w->pos >= 1);
	w->p[w->pos++] = v;
}

static void wr_u16(struct wr *w, uint16_t v)
{
	FS_ASSERT(w->len - w->pos >= 2);
	wire_put_le16(w->p + w->pos, v);
	w->pos += 2;
}

static void wr_u32(struct wr *w, uint32_t v)
{
	FS_ASSERT(w->len - w->pos >= 4);
	wire_put_le32(w->p + w->pos, v);
	w->pos += 4;
}

static void wr_u64(struct wr *w, uint64_t v)
{
	FS_ASSERT(w->len - w->pos >= 8);
	wire_put_le64(w->p + w->pos, v);
	w->pos += 8;
}

static void wr_zero(struct wr *w, uint32_t n)
{
	FS_ASSERT(w->len - w->pos >= n);
	for (uint32_t i = 0; i < n; i++)
		w->p[w->pos++] = 0;
}

/* The name up to its NUL, zero-padded: bytes after the NUL in the caller's
 * array never reach the wire. */
static void wr_name(struct wr *w, const char *s)
{
	bool end = false;

	FS_ASSERT(w->len - w->pos >= WIRE_NAME_FIELD);
	for (uint32_t i = 0; i < WIRE_NAME_FIELD; i++) {
		if (s[i] == '\0')
			end = true;
		w->p[w->pos++] = end ? 0 : (uint8_t)s[i];
	}
}

/* ---- Encoding ---- */

static void wr_sched(struct wr *w, const struct wire_sched_params *s)
{
	wr_u32(w, s->cpu_weight);
	wr_u32(w, s->cpu_cap_pct);
	wr_u64(w, s->warp_us);
	wr_u64(w, s->warp_limit_us);
	wr_u64(w, s->unwarp_us);
}

static void wr_io(struct wr *w, const struct wire_io_limits *io)
{
	wr_u64(w, io->io_bps);
	wr_u64(w, io->io_iops);
	wr_u64(w, io->io_burst_bytes);
	wr_u64(w, io->io_burst_ops);
}

static void wr_mem(struct wr *w, const struct wire_mem_limits *m)
{
	wr_u64(w, m->memory_max_mb);
	wr_u64(w, m->mem_growth_pages_per_s);
	wr_u64(w, m->mem_growth_burst_pages);
}

static void wr_domain(struct wr *w, const struct wire_domain *d)
{
	wr_u32(w, d->domid);
	wr_u8(w, d->state);
	wr_zero(w, 3);
	wr_name(w, d->name);
	wr_u64(w, d->memory_mb);
	wr_sched(w, &d->sched);
	wr_io(w, &d->io);
	wr_mem(w, &d->mem);
}

static void wr_usage(struct wr *w, const struct wire_usage *u, bool paged)
{
	wr_u64(w, u->boot_id);
	wr_u64(w, u->mono_ns);
	wr_u32(w, u->count);
	wr_u32(w, paged ? u->next : 0);
	for (uint32_t i = 0; i < u->count; i++) {
		wr_u32(w, u->e[i].domid);
		wr_zero(w, 4);
		for (uint32_t k = 0; k < WIRE_NCOUNTERS; k++)
			wr_u64(w, usage_field_get(&u->e[i].c, k));
	}
}

static void wr_cmd(struct wr *w, const struct wire_cmd *c)
{
	wr_u64(w, c->request_id);
	wr_u16(w, c->op);
	wr_zero(w, 2);
	wr_u32(w, c->domid);
	switch (c->op) {
	case WIRE_OP_LIST_DOMAINS:
	case WIRE_OP_GET_USAGE:
		wr_u32(w, c->u.cursor);
		wr_zero(w, 4);
		break;
	case WIRE_OP_SET_SHARES:
		wr_sched(w, &c->u.shares);
		break;
	case WIRE_OP_SET_IO_LIMITS:
		wr_io(w, &c->u.io);
		break;
	case WIRE_OP_SET_MEM_LIMITS:
		wr_mem(w, &c->u.mem);
		break;
	case WIRE_OP_CREATE: {
		const struct wire_create *k = &c->u.create;

		wr_name(w, k->image);
		wr_name(w, k->name);
		wr_u64(w, k->memory_mb);
		wr_sched(w, &k->sched);
		wr_io(w, &k->io);
		wr_u32(w, k->args_len);
		for (uint32_t i = 0; i < k->args_len; i++)
			wr_u8(w, (uint8_t)k->args[i]);
		break;
	}
	default:
		break;
	}
}

static void wr_resp(struct wr *w, const struct wire_resp *r)
{
	wr_u64(w, r->request_id);
	wr_u16(w, r->op);
	wr_zero(w, 2);
	wr_u32(w, (uint32_t)r->status);
	if (r->status != 0)
		return;
	switch (r->op) {
	case WIRE_OP_LIST_DOMAINS:
		wr_u32(w, r->u.list.count);
		wr_u32(w, r->u.list.next);
		for (uint32_t i = 0; i < r->u.list.count; i++)
			wr_domain(w, &r->u.list.d[i]);
		break;
	case WIRE_OP_GET_USAGE:
		wr_usage(w, &r->u.usage, true);
		break;
	case WIRE_OP_CREATE:
		wr_u32(w, r->u.created);
		wr_zero(w, 4);
		break;
	default:
		break;
	}
}

int wire_encode(const struct wire_msg *m, uint64_t seq, uint16_t flags,
                uint8_t *out, size_t cap)
{
	struct wr w;
	uint32_t size;

	if (wire_msg_check(m) != WIRE_OK || (flags & ~WIRE_F_ALL) != 0)
		return FS_EINVAL;
	size = wire_msg_size(m);
	FS_ASSERT(size <= WIRE_MAX_PAYLOAD);
	if (cap < (size_t)WIRE_HDR_SIZE + size + WIRE_TRAILER_SIZE)
		return FS_E2BIG;
	w.p = out + WIRE_HDR_SIZE;
	w.len = size;
	w.pos = 0;
	switch (m->type) {
	case WIRE_HELLO: {
		const struct wire_hello *h = &m->u.hello;

		wr_u8(&w, h->role);
		wr_u8(&w, h->proto_min);
		wr_u8(&w, h->proto_max);
		wr_zero(&w, 1);
		wr_u32(&w, h->count);
		wr_u64(&w, h->boot_id);
		wr_u64(&w, h->tsc_hz);
		wr_u64(&w, h->mono_ns);
		wr_u32(&w, h->total_domains);
		wr_u32(&w, h->dropped);
		for (uint32_t i = 0; i < h->count; i++)
			wr_domain(&w, &h->d[i]);
		break;
	}
	case WIRE_METER:
		wr_usage(&w, &m->u.meter, false);
		break;
	case WIRE_ACK:
		wr_u64(&w, m->u.ack.boot_id);
		wr_u64(&w, m->u.ack.seq);
		break;
	case WIRE_CMD:
		wr_cmd(&w, &m->u.cmd);
		break;
	case WIRE_RESP:
		wr_resp(&w, &m->u.resp);
		break;
	case WIRE_EVENT: {
		const struct wire_event *e = &m->u.event;

		wr_u64(&w, e->boot_id);
		wr_u64(&w, e->mono_ns);
		wr_u32(&w, e->domid);
		wr_u16(&w, e->kind);
		wr_u16(&w, e->why);
		wr_u64(&w, e->detail);
		wr_name(&w, e->name);
		break;
	}
	default:
		break;
	}
	FS_BUG_ON(w.pos != size);
	return wire_frame_seal(out, cap, WIRE_VERSION, m->type, flags, seq,
	                       size);
}

/* ---- Decoding ---- */

static void rd_sched(struct rd *r, struct wire_sched_params *s)
{
	s->cpu_weight = rd_u32(r);
	s->cpu_cap_pct = rd_u32(r);
	s->warp_us = rd_u64(r);
	s->warp_limit_us = rd_u64(r);
	s->unwarp_us = rd_u64(r);
}

static void rd_io(struct rd *r, struct wire_io_limits *io)
{
	io->io_bps = rd_u64(r);
	io->io_iops = rd_u64(r);
	io->io_burst_bytes = rd_u64(r);
	io->io_burst_ops = rd_u64(r);
}

static void rd_mem(struct rd *r, struct wire_mem_limits *m)
{
	m->memory_max_mb = rd_u64(r);
	m->mem_growth_pages_per_s = rd_u64(r);
	m->mem_growth_burst_pages = rd_u64(r);
}

static void rd_domain(struct rd *r, struct wire_domain *d)
{
	d->domid = rd_u32(r);
	d->state = rd_u8(r);
	rd_zero(r, 3);
	rd_name(r, d->name);
	d->memory_mb = rd_u64(r);
	rd_sched(r, &d->sched);
	rd_io(r, &d->io);
	rd_mem(r, &d->mem);
}

/* count entries of `size` bytes follow: is that exactly what is left? Checked
 * before the loop, so a huge count costs nothing. */
static bool rd_count_fits(struct rd *r, uint32_t count, uint32_t size)
{
	if (count > WIRE_MAX_BATCH || r->len - r->pos != count * size) {
		r->short_read = true;
		return false;
	}
	return true;
}

static void rd_usage(struct rd *r, struct wire_usage *u, bool paged)
{
	u->boot_id = rd_u64(r);
	u->mono_ns = rd_u64(r);
	u->count = rd_u32(r);
	if (paged)
		u->next = rd_u32(r);
	else {
		rd_zero(r, 4);
		u->next = DOMID_INVALID;
	}
	if (!rd_count_fits(r, u->count, WIRE_METER_ENTRY_SIZE))
		return;
	for (uint32_t i = 0; i < u->count; i++) {
		u->e[i].domid = rd_u32(r);
		rd_zero(r, 4);
		for (uint32_t k = 0; k < WIRE_NCOUNTERS; k++)
			*usage_field(&u->e[i].c, k) = rd_u64(r);
	}
}

static void rd_hello(struct rd *r, struct wire_hello *h)
{
	h->role = rd_u8(r);
	h->proto_min = rd_u8(r);
	h->proto_max = rd_u8(r);
	rd_zero(r, 1);
	h->count = rd_u32(r);
	h->boot_id = rd_u64(r);
	h->tsc_hz = rd_u64(r);
	h->mono_ns = rd_u64(r);
	h->total_domains = rd_u32(r);
	h->dropped = rd_u32(r);
	if (!rd_count_fits(r, h->count, WIRE_DOMAIN_ENTRY_SIZE))
		return;
	for (uint32_t i = 0; i < h->count; i++)
		rd_domain(r, &h->d[i]);
}

static void rd_cmd(struct rd *r, struct wire_cmd *c)
{
	c->request_id = rd_u64(r);
	c->op = rd_u16(r);
	rd_zero(r, 2);
	c->domid = rd_u32(r);
	switch (c->op) {
	case WIRE_OP_LIST_DOMAINS:
	case WIRE_OP_GET_USAGE:
		c->u.cursor = rd_u32(r);
		rd_zero(r, 4);
		break;
	case WIRE_OP_SET_SHARES:
		rd_sched(r, &c->u.shares);
		break;
	case WIRE_OP_SET_IO_LIMITS:
		rd_io(r, &c->u.io);
		break;
	case WIRE_OP_SET_MEM_LIMITS:
		rd_mem(r, &c->u.mem);
		break;
	case WIRE_OP_CREATE: {
		struct wire_create *k = &c->u.create;

		rd_name(r, k->image);
		rd_name(r, k->name);
		k->memory_mb = rd_u64(r);
		rd_sched(r, &k->sched);
		rd_io(r, &k->io);
		k->args_len = rd_u32(r);
		if (k->args_len > WIRE_ARGS_MAX ||
		    r->len - r->pos != k->args_len) {
			r->short_read = true;
			return;
		}
		for (uint32_t i = 0; i < k->args_len; i++)
			k->args[i] = (char)rd_u8(r);
		k->args[k->args_len] = '\0';
		break;
	}
	default:
		/* Unknown ops: the size is unknown, the op is the problem. */
		if (c->op < 1 || c->op > WIRE_OP_MAX)
			r->pos = r->len;
		break;
	}
}

static void rd_resp(struct rd *r, struct wire_resp *s)
{
	s->request_id = rd_u64(r);
	s->op = rd_u16(r);
	rd_zero(r, 2);
	s->status = (int32_t)rd_u32(r);
	if (s->status != 0)
		return;
	switch (s->op) {
	case WIRE_OP_LIST_DOMAINS: {
		struct wire_domain_list *l = &s->u.list;

		l->count = rd_u32(r);
		l->next = rd_u32(r);
		if (!rd_count_fits(r, l->count, WIRE_DOMAIN_ENTRY_SIZE))
			return;
		for (uint32_t i = 0; i < l->count; i++)
			rd_domain(r, &l->d[i]);
		break;
	}
	case WIRE_OP_GET_USAGE:
		rd_usage(r, &s->u.usage, true);
		break;
	case WIRE_OP_CREATE:
		s->u.created = rd_u32(r);
		rd_zero(r, 4);
		break;
	default:
		if (s->op < 1 || s->op > WIRE_OP_MAX)
			r->pos = r->len;
		break;
	}
}

static void rd_event(struct rd *r, struct wire_event *e)
{
	e->boot_id = rd_u64(r);
	e->mono_ns = rd_u64(r);
	e->domid = rd_u32(r);
	e->kind = rd_u16(r);
	e->why = rd_u16(r);
	e->detail = rd_u64(r);
	rd_name(r, e->name);
}

enum wire_reason wire_msg_decode(const struct wire_frame *f, struct wire_msg *m)
{
	struct rd r = {.p = f->payload, .len = f->len};

	if (f->type < 1 || f->type > WIRE_TYPE_MAX)
		return WIRE_REJ_UNKNOWN_TYPE;
	m->type = f->type;
	switch (f->type) {
	case WIRE_HELLO:
		rd_hello(&r, &m->u.hello);
		break;
	case WIRE_METER:
		rd_usage(&r, &m->u.meter, false);
		break;
	case WIRE_ACK:
		m->u.ack.boot_id = rd_u64(&r);
		m->u.ack.seq = rd_u64(&r);
		break;
	case WIRE_CMD:
		rd_cmd(&r, &m->u.cmd);
		break;
	case WIRE_RESP:
		rd_resp(&r, &m->u.resp);
		break;
	case WIRE_EVENT:
		rd_event(&r, &m->u.event);
		break;
	default:
		break;
	}
	if (r.short_read || r.pos != r.len)
		return WIRE_REJ_MSG_LENGTH;
	if (r.bad_field)
		return WIRE_REJ_MSG_FIELD;
	return wire_msg_check(m);
}
