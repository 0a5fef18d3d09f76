/*
 * Management-link frames: sealing and the stream decoder (see wire.h for the
 * contract, docs/management-protocol.md for the layout).
 *
 *   off  size  field
 *     0     4  magic F5 53 4D 4C
 *     4     1  version
 *     5     1  type
 *     6     2  flags
 *     8     8  seq
 *    16     4  len (payload bytes, <= WIRE_MAX_PAYLOAD)
 *    20     4  header CRC32C of bytes 0..19
 *    24   len  payload
 * 24+len    4  frame CRC32C of bytes 0..24+len-1
 *
 * The decoder is a scanner over a linear buffer, not a state machine with
 * memory of partial decisions: every call re-derives the state from the
 * bytes at buf[head..], so the results depend only on the byte stream, never
 * on how it was chunked. The decision order for the bytes at head:
 *
 *   1. no magic at head          skip to the next (possible) magic, count the
 *                                skipped bytes as garbage
 *   2. < 24 bytes                wait
 *   3. pending garbage           report it (one GARBAGE reject)
 *   4. header CRC wrong          HEADER_CRC, drop 1 byte (length untrusted)
 *   5. len > WIRE_MAX_PAYLOAD    OVERSIZED, drop 1 byte
 *   6. frame incomplete          wait (the header is good: the length is
 *                                what the sender wrote)
 *   7. frame CRC wrong           a valid header inside the frame means bytes
 *                                were lost: TRUNCATED, drop up to it; else
 *                                FRAME_CRC, drop the frame
 *   8. version, type, flags      VERSION / UNKNOWN_TYPE / FLAGS, drop frame
 *   9. otherwise                 deliver; dropped on the next call
 *
 * A corrupt length can stall nothing: it fails step 4. A frame truncated by
 * lost bytes waits in step 6 only until the following frames fill its claimed
 * extent, and step 7 then resumes at the next frame, which is delivered. If
 * the line goes quiet first, the link owner calls wire_decoder_finish() (on
 * disconnect, or after an idle timeout), which does the same search.
 *
 * Why step 7 looks for the inner header only once the frame is complete,
 * not while waiting: a good frame may legitimately carry bytes that look
 * like a header (counter values are arbitrary). Deciding early would make
 * the outcome depend on how the bytes were chunked; deciding on the whole
 * frame means its CRC speaks first.
 */
#include "wire.h"

#include "crc32c.h"
#include "fs_assert.h"
#include "fs_errors.h"

static const uint8_t magic_bytes[4] = {0xF5, 0x53, 0x4D, 0x4C};

_Static_assert(WIRE_MAGIC == (0xF5u | 0x53u << 8 | 0x4Du << 16 | 0x4Cu << 24),
               "WIRE_MAGIC spells the magic bytes little-endian");
_Static_assert(WIRE_DECODER_BUF < UINT32_MAX / 2, "offsets fit in u32");

const char *wire_reason_name(enum wire_reason r)
{
	static const char *const names[WIRE_REJ_COUNT] = {
	    [WIRE_OK] = "ok",
	    [WIRE_REJ_GARBAGE] = "garbage",
	    [WIRE_REJ_TRUNCATED] = "truncated",
	    [WIRE_REJ_OVERSIZED] = "oversized",
	    [WIRE_REJ_VERSION] = "version",
	    [WIRE_REJ_HEADER_CRC] = "header_crc",
	    [WIRE_REJ_FRAME_CRC] = "frame_crc",
	    [WIRE_REJ_UNKNOWN_TYPE] = "unknown_type",
	    [WIRE_REJ_FLAGS] = "flags",
	    [WIRE_REJ_MSG_LENGTH] = "msg_length",
	    [WIRE_REJ_MSG_FIELD] = "msg_field",
	};

	if ((unsigned)r >= WIRE_REJ_COUNT)
		return "?";
	return names[r];
}

int wire_frame_seal(uint8_t *out, size_t cap, uint8_t version, uint8_t type,
                    uint16_t flags, uint64_t seq, uint32_t len)
{
	if (len > WIRE_MAX_PAYLOAD ||
	    cap < (size_t)WIRE_HDR_SIZE + len + WIRE_TRAILER_SIZE)
		return FS_E2BIG;
	for (unsigned i = 0; i < 4; i++)
		out[i] = magic_bytes[i];
	out[4] = version;
	out[5] = type;
	wire_put_le16(out + 6, flags);
	wire_put_le64(out + 8, seq);
	wire_put_le32(out + 16, len);
	wire_put_le32(out + 20, crc32c(0, out, 20));
	wire_put_le32(out + WIRE_HDR_SIZE + len,
	              crc32c(0, out, WIRE_HDR_SIZE + len));
	return (int)(WIRE_HDR_SIZE + len + WIRE_TRAILER_SIZE);
}

void wire_decoder_check(const struct wire_decoder *d)
{
	FS_BUG_ON(d->head > d->tail);
	FS_BUG_ON(d->tail > WIRE_DECODER_BUF);
	FS_BUG_ON(d->consume > d->tail - d->head);
}

void wire_decoder_init(struct wire_decoder *d)
{
	d->head = d->tail = d->consume = 0;
	d->garbage = 0;
	d->frames = 0;
	for (unsigned i = 0; i < WIRE_REJ_COUNT; i++)
		d->rejects[i] = 0;
}

/* Drop the frame handed out by the previous call. */
static void drop_consumed(struct wire_decoder *d)
{
	d->head += d->consume;
	d->consume = 0;
	if (d->head == d->tail)
		d->head = d->tail = 0;
}

size_t wire_decoder_feed(struct wire_decoder *d, const uint8_t *data,
                         size_t len)
{
	size_t n;

	drop_consumed(d);
	if (len > WIRE_DECODER_BUF - d->tail && d->head > 0) {
		/* Slide the unparsed bytes to the front. At most one frame's
		 * worth is moved per frame's worth of input, so this stays
		 * linear. */
		uint32_t live = d->tail - d->head;

		for (uint32_t i = 0; i < live; i++)
			d->buf[i] = d->buf[d->head + i];
		d->head = 0;
		d->tail = live;
	}
	n = WIRE_DECODER_BUF - d->tail;
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		d->buf[d->tail + i] = data[i];
	d->tail += (uint32_t)n;
#ifdef FS_DEBUG
	wire_decoder_check(d);
#endif
	return n;
}

/* Offset of the first position in p[0..avail) where the magic starts, or
 * could start (a prefix of it runs into the end of the data); avail if
 * none. */
static uint32_t magic_scan(const uint8_t *p, uint32_t avail)
{
	for (uint32_t i = 0; i < avail; i++) {
		uint32_t k = 0;

		if (p[i] != magic_bytes[0])
			continue;
		while (k < 4 && i + k < avail && p[i + k] == magic_bytes[k])
			k++;
		if (k == 4 || i + k == avail)
			return i;
	}
	return avail;
}

/* p holds at least WIRE_HDR_SIZE bytes starting with the magic. */
static bool header_crc_ok(const uint8_t *p)
{
	return crc32c(0, p, 20) == wire_get_le32(p + 20);
}

static bool is_magic(const uint8_t *p)
{
	return p[0] == magic_bytes[0] && p[1] == magic_bytes[1] &&
	       p[2] == magic_bytes[2] && p[3] == magic_bytes[3];
}

#define INNER_NONE UINT32_MAX
#define INNER_WAIT (UINT32_MAX - 1)

/* The first offset q in [1, end) where a header with a good CRC starts in
 * p[0..avail): INNER_NONE if there is none, INNER_WAIT if a magic number at
 * some q lacks the bytes to check its header. */
static uint32_t inner_header(const uint8_t *p, uint32_t end, uint32_t avail)
{
	for (uint32_t q = 1; q < end && q < avail; q++) {
		if (p[q] != magic_bytes[0])
			continue;
		if (avail - q < WIRE_HDR_SIZE)
			return INNER_WAIT;
		if (is_magic(p + q) && header_crc_ok(p + q))
			return q;
	}
	return INNER_NONE;
}

static void header_fields(const uint8_t *p, struct wire_frame *f)
{
	f->version = p[4];
	f->type = p[5];
	f->flags = wire_get_le16(p + 6);
	f->seq = wire_get_le64(p + 8);
	f->payload = NULL;
	f->len = wire_get_le32(p + 16);
}

static enum wire_rx_kind reject(struct wire_decoder *d, struct wire_rx *rx,
                                enum wire_reason why, uint32_t bytes)
{
	FS_ASSERT(bytes > 0 && bytes <= d->tail - d->head);
	d->head += bytes;
	if (d->head == d->tail)
		d->head = d->tail = 0;
	d->rejects[why]++;
	rx->kind = WIRE_RX_REJECT;
	rx->reason = why;
	rx->bytes = bytes;
	return WIRE_RX_REJECT;
}

static enum wire_rx_kind report_garbage(struct wire_decoder *d,
                                        struct wire_rx *rx)
{
	uint32_t n =
	    d->garbage > UINT32_MAX ? UINT32_MAX : (uint32_t)d->garbage;

	d->garbage -= n;
	d->rejects[WIRE_REJ_GARBAGE]++;
	rx->kind = WIRE_RX_REJECT;
	rx->reason = WIRE_REJ_GARBAGE;
	rx->bytes = n;
	return WIRE_RX_REJECT;
}

static void rx_clear(struct wire_rx *rx)
{
	rx->kind = WIRE_RX_NONE;
	rx->reason = WIRE_OK;
	rx->bytes = 0;
	rx->frame.version = 0;
	rx->frame.type = 0;
	rx->frame.flags = 0;
	rx->frame.seq = 0;
	rx->frame.payload = NULL;
	rx->frame.len = 0;
}

enum wire_rx_kind wire_decoder_next(struct wire_decoder *d, struct wire_rx *rx)
{
	const uint8_t *p;
	uint32_t avail, skip, total;

	drop_consumed(d);
	rx_clear(rx);
#ifdef FS_DEBUG
	wire_decoder_check(d);
#endif
	avail = d->tail - d->head;
	p = d->buf + d->head;

	/* 1. Skip to the next possible magic. */
	skip = magic_scan(p, avail);
	if (skip > 0) {
		d->garbage += skip;
		d->head += skip;
		avail -= skip;
		p += skip;
		if (avail == 0)
			d->head = d->tail = 0;
	}
	/* 2. A header needs 24 bytes; a partial magic waits here too. */
	if (avail < WIRE_HDR_SIZE)
		return WIRE_RX_NONE;
	/* 3. Garbage is reported only now, once something follows it, so
	 * that byte-at-a-time input reports it as one run. */
	if (d->garbage > 0)
		return report_garbage(d, rx);

	header_fields(p, &rx->frame);
	/* 4-5. Trust the length only under a good header CRC. */
	if (!header_crc_ok(p))
		return reject(d, rx, WIRE_REJ_HEADER_CRC, 1);
	if (rx->frame.len > WIRE_MAX_PAYLOAD)
		return reject(d, rx, WIRE_REJ_OVERSIZED, 1);
	total = WIRE_HDR_SIZE + rx->frame.len + WIRE_TRAILER_SIZE;
	/* 6. Wait for the whole frame; it fits (invariant 3). */
	if (avail < total)
		return WIRE_RX_NONE;
	/* 7. A bad frame CRC: lost bytes or corrupt ones? */
	if (crc32c(0, p, WIRE_HDR_SIZE + rx->frame.len) !=
	    wire_get_le32(p + WIRE_HDR_SIZE + rx->frame.len)) {
		/* The buffer holds a header past the frame's end
		 * (WIRE_DECODER_BUF), so a full buffer never waits here. */
		uint32_t q = inner_header(p, total, avail);

		if (q == INNER_WAIT)
			return WIRE_RX_NONE;
		if (q != INNER_NONE)
			return reject(d, rx, WIRE_REJ_TRUNCATED, q);
		return reject(d, rx, WIRE_REJ_FRAME_CRC, total);
	}
	/* 8. Intact but not for us. */
	if (rx->frame.version != WIRE_VERSION)
		return reject(d, rx, WIRE_REJ_VERSION, total);
	if (rx->frame.type == 0 || rx->frame.type > WIRE_TYPE_MAX)
		return reject(d, rx, WIRE_REJ_UNKNOWN_TYPE, total);
	if (rx->frame.flags & ~WIRE_F_ALL)
		return reject(d, rx, WIRE_REJ_FLAGS, total);
	/* 9. Deliver; the bytes stay put until the next call. */
	rx->kind = WIRE_RX_FRAME;
	rx->bytes = total;
	rx->frame.payload = p + WIRE_HDR_SIZE;
	d->consume = total;
	d->frames++;
	return WIRE_RX_FRAME;
}

enum wire_rx_kind wire_decoder_finish(struct wire_decoder *d,
                                      struct wire_rx *rx)
{
	enum wire_rx_kind k = wire_decoder_next(d, rx);

	if (k != WIRE_RX_NONE)
		return k;
	if (d->garbage > 0)
		return report_garbage(d, rx);
	if (d->tail > d->head) {
		const uint8_t *p = d->buf + d->head;
		uint32_t avail = d->tail - d->head;
		uint32_t q = inner_header(p, avail, avail);

		if (avail >= WIRE_HDR_SIZE)
			header_fields(p, &rx->frame);
		/* A frame that lost bytes may hide the start of the next one,
		 * which next() was waiting to complete the first: drop only up
		 * to it, so the good frame behind is still delivered. */
		if (q == INNER_WAIT || q == INNER_NONE)
			q = avail;
		return reject(d, rx, WIRE_REJ_TRUNCATED, q);
	}
	return WIRE_RX_NONE;
}
