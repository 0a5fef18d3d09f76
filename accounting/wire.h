/*
 * The management-link wire format: frames, the stream decoder and the
 * messages (HELLO, METER, ACK, CMD, RESP, EVENT) of design section 6.
 * docs/management-protocol.md is the byte-level specification; this header
 * is the C contract. Freestanding: no libc, no heap; every buffer and every
 * decoded message lives in memory the caller owns.
 *
 * Two layers:
 *
 *   frames    magic, version, type, flags, sequence number, length, header
 *             CRC32C, payload, frame CRC32C (wire_frame.c). The stream
 *             decoder accepts any chunking of the byte stream and turns it
 *             into good frames and rejects, each with a reason.
 *   messages  the typed payloads (wire_msg.c): wire_encode() checks and
 *             serialises a struct wire_msg into a sealed frame;
 *             wire_msg_decode() parses and checks a delivered frame.
 *
 * Why the header has its own CRC: the length field is trusted only after the
 * header CRC matches, so a corrupt length can neither make the decoder wait
 * for bytes that never come nor make it skip good frames behind it. A frame
 * whose header is good but whose frame CRC fails is searched for the start
 * of another valid header (bytes were lost on the line: "truncated") before
 * it is dropped; see wire_decoder_next().
 *
 * Everything on the wire is little-endian; every field has a fixed width and
 * offset; reserved bytes are zero and checked.
 */
#ifndef ACCOUNTING_WIRE_H
#define ACCOUNTING_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "fs_types.h"

/* ---- Limits (the size arithmetic is in docs/management-protocol.md) ---- */

#define WIRE_VERSION 1u
#define WIRE_HDR_SIZE 24u      /* fixed header, frozen across versions */
#define WIRE_TRAILER_SIZE 4u   /* frame CRC32C */
#define WIRE_MAGIC 0x4C4D53F5u /* bytes F5 'S' 'M' 'L' in stream order */

/* Domains per METER batch, domain-list page, usage page and HELLO. Larger
 * sets are split over several METER frames or paged with a cursor; 64 keeps
 * a frame under 9 KiB, about 0.8 s on a 115200-baud serial line. */
#define WIRE_MAX_BATCH 64u
#define WIRE_NAME_MAX 31u   /* domain and image names, [A-Za-z0-9_.-] */
#define WIRE_NAME_FIELD 32u /* on the wire: name, NUL-padded */
#define WIRE_ARGS_MAX 1024u /* CREATE argument string, printable ASCII */
#define WIRE_NCOUNTERS 14u  /* u64 counters per METER / usage entry */
_Static_assert(WIRE_NCOUNTERS == USAGE_NFIELDS,
               "a METER entry carries every field of struct usage_counters");

/* Time parameters of the scheduler are bounded by one hour, as in
 * sched/sched.h (SCHED_TIME_PARAM_MAX_US); the wire refuses larger ones. */
#define WIRE_TIME_PARAM_MAX_US 3600000000ull
#define WIRE_WEIGHT_MIN 1u
#define WIRE_WEIGHT_MAX 65535u
#define WIRE_CAP_PCT_MAX 100u

/* Fixed payload pieces. */
#define WIRE_METER_ENTRY_SIZE (8u + 8u * WIRE_NCOUNTERS) /* 120 */
#define WIRE_DOMAIN_ENTRY_SIZE 136u
#define WIRE_USAGE_HEAD_SIZE 24u
#define WIRE_HELLO_HEAD_SIZE 40u
#define WIRE_CMD_HEAD_SIZE 16u
#define WIRE_RESP_HEAD_SIZE 16u
#define WIRE_CREATE_FIXED_SIZE 156u /* CMD CREATE without the args bytes */
#define WIRE_EVENT_SIZE 64u
#define WIRE_ACK_SIZE 16u

/* Bound on a frame's payload. The largest message is a HELLO with a full
 * batch: 40 + 64 * 136 = 8744 bytes. 16 KiB leaves room for a later version
 * to grow entries without changing the decoder buffer, and keeps the
 * buffer (WIRE_DECODER_BUF) small enough for the hypervisor's static data. */
#define WIRE_MAX_PAYLOAD 16384u
#define WIRE_FRAME_MAX (WIRE_HDR_SIZE + WIRE_MAX_PAYLOAD + WIRE_TRAILER_SIZE)

_Static_assert(WIRE_HELLO_HEAD_SIZE + WIRE_MAX_BATCH * WIRE_DOMAIN_ENTRY_SIZE <=
                   WIRE_MAX_PAYLOAD,
               "a full HELLO must fit in one frame");
_Static_assert(WIRE_RESP_HEAD_SIZE + 8u +
                       WIRE_MAX_BATCH * WIRE_DOMAIN_ENTRY_SIZE <=
                   WIRE_MAX_PAYLOAD,
               "a full domain-list page must fit in one frame");
_Static_assert(WIRE_RESP_HEAD_SIZE + WIRE_USAGE_HEAD_SIZE +
                       WIRE_MAX_BATCH * WIRE_METER_ENTRY_SIZE <=
                   WIRE_MAX_PAYLOAD,
               "a full usage page must fit in one frame");
_Static_assert(WIRE_CREATE_FIXED_SIZE + WIRE_ARGS_MAX <= WIRE_MAX_PAYLOAD,
               "a CREATE with the longest args must fit in one frame");

/* ---- Frame header fields ---- */

enum wire_type {
	WIRE_HELLO = 1, /* either side, first frame after connecting */
	WIRE_METER = 2, /* hypervisor -> controller: counter batch */
	WIRE_ACK = 3,   /* controller -> hypervisor: highest seq stored */
	WIRE_CMD = 4,   /* controller -> hypervisor: a request */
	WIRE_RESP = 5,  /* hypervisor -> controller: the answer */
	WIRE_EVENT = 6, /* hypervisor -> controller: domain life cycle */
};
#define WIRE_TYPE_MAX 6u

/* Frame flags. Undefined bits must be zero (WIRE_REJ_FLAGS). */
#define WIRE_F_RESENT 0x0001u /* a resend of a frame sent before (same seq) */
#define WIRE_F_ALL WIRE_F_RESENT

/* Why a frame, a message or a run of bytes was rejected. Values are stable
 * (they appear in logs and in billingd's metrics). */
enum wire_reason {
	WIRE_OK = 0,
	WIRE_REJ_GARBAGE = 1,      /* bytes that start no frame, skipped */
	WIRE_REJ_TRUNCATED = 2,    /* frame cut short: another frame starts
	                            * inside it, or the stream ended */
	WIRE_REJ_OVERSIZED = 3,    /* length above WIRE_MAX_PAYLOAD */
	WIRE_REJ_VERSION = 4,      /* intact frame of another version */
	WIRE_REJ_HEADER_CRC = 5,   /* magic found, header CRC wrong */
	WIRE_REJ_FRAME_CRC = 6,    /* header good, frame CRC wrong */
	WIRE_REJ_UNKNOWN_TYPE = 7, /* intact frame of a type we do not know */
	WIRE_REJ_FLAGS = 8,        /* reserved flag bits set */
	WIRE_REJ_MSG_LENGTH = 9,   /* payload size wrong for the type, or a
	                            * count that disagrees with it */
	WIRE_REJ_MSG_FIELD = 10,   /* a field out of range: enum value, name
	                            * charset, parameter range, reserved != 0 */
	WIRE_REJ_COUNT
};

/* Short stable name of a reason ("header_crc"), "?" if out of range. */
const char *wire_reason_name(enum wire_reason r);

/* A good frame as delivered by the decoder. payload points into the
 * decoder's buffer and stays valid until the next wire_decoder_* call. */
struct wire_frame {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint64_t seq;
	const uint8_t *payload;
	uint32_t len;
};

/* ---- Building frames ---- */

/* Seal a frame whose payload (len bytes) the caller has already written at
 * out + WIRE_HDR_SIZE: writes the header in front and the frame CRC behind.
 * Returns the frame size, or FS_E2BIG if len > WIRE_MAX_PAYLOAD or the frame
 * does not fit in cap bytes. Any version/type/flags are accepted: tests and
 * tools use this to build frames the decoder must refuse. */
int wire_frame_seal(uint8_t *out, size_t cap, uint8_t version, uint8_t type,
                    uint16_t flags, uint64_t seq, uint32_t len);

/* ---- The stream decoder ---- */

enum wire_rx_kind {
	WIRE_RX_NONE = 0, /* need more bytes */
	WIRE_RX_FRAME,    /* rx->frame is a good frame */
	WIRE_RX_REJECT,   /* rx->reason says what rx->bytes were dropped */
};

struct wire_rx {
	enum wire_rx_kind kind;
	enum wire_reason reason; /* WIRE_OK for frames */
	uint32_t bytes;          /* bytes consumed by this frame or reject */
	/* For frames, and for rejects whose header was good (VERSION,
	 * UNKNOWN_TYPE, FLAGS, OVERSIZED, FRAME_CRC, TRUNCATED-inside): the
	 * header fields, so a receiver can log the sequence number. payload
	 * is NULL for rejects. */
	struct wire_frame frame;
};

/* Room for a whole frame plus one header, so that a frame whose CRC fails
 * can always be searched up to its last byte for a header starting inside
 * it (that header's 24 bytes may extend past the frame's end). */
#define WIRE_DECODER_BUF (WIRE_FRAME_MAX + WIRE_HDR_SIZE)

/*
 * Caller-owned stream decoder for one direction of one link. Not thread-safe:
 * the owner of the link serialises calls. Invariants (wire_decoder_check):
 *   1. head <= tail <= WIRE_DECODER_BUF; buf[head..tail) is unparsed input.
 *   2. consume <= tail - head: the frame returned last, dropped on the next
 *      call (so rx.frame.payload stays valid until then).
 *   3. When tail - head == WIRE_DECODER_BUF, wire_decoder_next() does not
 *      return WIRE_RX_NONE: a full buffer always holds a decision.
 */
struct wire_decoder {
	uint32_t head, tail, consume;
	uint64_t garbage;                 /* skipped bytes not yet reported */
	uint64_t frames;                  /* good frames delivered */
	uint64_t rejects[WIRE_REJ_COUNT]; /* rejects delivered, per reason */
	uint8_t buf[WIRE_DECODER_BUF];
};

/* Empty the decoder and zero its statistics. */
void wire_decoder_init(struct wire_decoder *d);

/* Copy up to len bytes of input into the decoder; returns how many were
 * taken (less than len only when the buffer is full: call
 * wire_decoder_next() until WIRE_RX_NONE, then feed the rest). */
size_t wire_decoder_feed(struct wire_decoder *d, const uint8_t *data,
                         size_t len);

/*
 * Produce the next frame or reject from the buffered input. Returns and
 * stores in *rx WIRE_RX_FRAME, WIRE_RX_REJECT, or WIRE_RX_NONE when more
 * input is needed. Call it until WIRE_RX_NONE after every feed.
 *
 * Garbage between frames is reported as one WIRE_REJ_GARBAGE reject when the
 * next frame (or reject) begins, so the sequence of results does not depend
 * on how the stream was chunked. Header-level rejects (HEADER_CRC,
 * OVERSIZED) drop one byte and rescan; a frame whose frame CRC fails is
 * reported TRUNCATED and dropped up to the next valid header inside it, or
 * FRAME_CRC and dropped whole when there is none; intact frames of an
 * unknown version, type or flags are dropped whole.
 */
enum wire_rx_kind wire_decoder_next(struct wire_decoder *d, struct wire_rx *rx);

/* End of stream (the link closed, or the caller timed out waiting): report
 * pending garbage, then any buffered partial frame as TRUNCATED. Call until
 * WIRE_RX_NONE; the decoder is then empty and ready for a new connection. */
enum wire_rx_kind wire_decoder_finish(struct wire_decoder *d,
                                      struct wire_rx *rx);

/* Verify invariants 1-3; panics (FS_BUG_ON) if broken. */
void wire_decoder_check(const struct wire_decoder *d);

/* ---- Messages ---- */

enum wire_role {
	WIRE_ROLE_HYPERVISOR = 1,
	WIRE_ROLE_CONTROLLER = 2,
};

enum wire_dom_state {
	WIRE_DOM_CREATED = 1, /* built, not yet started */
	WIRE_DOM_RUNNING = 2, /* alive: running, runnable or blocked */
	WIRE_DOM_PAUSED = 3,
	WIRE_DOM_EXITED = 4,  /* shut itself down, not yet destroyed */
	WIRE_DOM_CRASHED = 5, /* killed by a fault or by policy */
	WIRE_DOM_DYING = 6,   /* being destroyed */
};
#define WIRE_DOM_STATE_MAX 6u

enum wire_op {
	WIRE_OP_LIST_DOMAINS = 1,
	WIRE_OP_GET_USAGE = 2,
	WIRE_OP_SET_SHARES = 3,
	WIRE_OP_SET_IO_LIMITS = 4,
	WIRE_OP_SET_MEM_LIMITS = 5,
	WIRE_OP_PAUSE = 6,
	WIRE_OP_UNPAUSE = 7,
	WIRE_OP_DESTROY = 8,
	WIRE_OP_CREATE = 9,
	WIRE_OP_SHUTDOWN = 10, /* shut the hypervisor down */
};
#define WIRE_OP_MAX 10u

enum wire_event_kind {
	WIRE_EV_CREATED = 1,
	WIRE_EV_EXITED = 2,    /* the guest shut down; detail = exit code */
	WIRE_EV_DESTROYED = 3, /* resources freed (after DESTROY or exit) */
	WIRE_EV_CRASHED = 4,   /* a fault; why = WIRE_WHY_FAULT_*,
	                        * detail = faulting address */
	WIRE_EV_KILLED = 5,    /* by policy; why = WIRE_WHY_KILL_* */
	WIRE_EV_PAUSED = 6,
	WIRE_EV_UNPAUSED = 7,
	WIRE_EV_QUOTA = 8, /* a limit acted; why = WIRE_WHY_QUOTA_*,
	                    * detail = ns throttled or pages refused */
};
#define WIRE_EV_KIND_MAX 8u

/* Event reasons, grouped by the kind that may carry them. */
enum wire_why {
	WIRE_WHY_NONE = 0,
	WIRE_WHY_FAULT_DIVIDE = 1,
	WIRE_WHY_FAULT_INVALID_OPCODE = 2,
	WIRE_WHY_FAULT_GP = 3,
	WIRE_WHY_FAULT_PAGE = 4,
	WIRE_WHY_FAULT_OTHER = 5,
	WIRE_WHY_KILL_PRIVILEGED = 16, /* privileged instruction in ring 3 */
	WIRE_WHY_KILL_BAD_HYPERCALL = 17,
	WIRE_WHY_KILL_MEM_LIMIT = 18,
	WIRE_WHY_KILL_ADMIN = 19,
	WIRE_WHY_QUOTA_CPU_CAP = 32,
	WIRE_WHY_QUOTA_IO = 33,
	WIRE_WHY_QUOTA_MEM_GROWTH = 34,
	WIRE_WHY_QUOTA_MEM_MAX = 35,
};

struct wire_sched_params {
	uint32_t cpu_weight;  /* 1..65535 */
	uint32_t cpu_cap_pct; /* 0 (no cap)..100 */
	uint64_t warp_us;     /* each of the three: 0..WIRE_TIME_PARAM_MAX_US */
	uint64_t warp_limit_us;
	uint64_t unwarp_us;
};

struct wire_io_limits { /* 0 = unlimited */
	uint64_t io_bps;
	uint64_t io_iops;
	uint64_t io_burst_bytes;
	uint64_t io_burst_ops;
};

struct wire_mem_limits { /* 0 = unlimited */
	uint64_t memory_max_mb;
	uint64_t mem_growth_pages_per_s;
	uint64_t mem_growth_burst_pages;
};

/* Names: 1..31 bytes of [A-Za-z0-9_.-], NUL-terminated here. */
struct wire_domain {
	domid_t domid; /* 1..DOMID_INVALID-1 */
	uint8_t state; /* enum wire_dom_state */
	char name[WIRE_NAME_FIELD];
	uint64_t memory_mb;
	struct wire_sched_params sched;
	struct wire_io_limits io;
	struct wire_mem_limits mem;
};

/* One domain's counters; on the wire in struct usage_counters field order
 * (accounting/counters.h), read and written through usage_field*(). */
struct wire_usage_entry {
	domid_t domid; /* 0 is the hypervisor's own account */
	struct usage_counters c;
};

/* A counter batch: the METER payload and the GET_USAGE answer. Entries are
 * in strictly increasing domid order (no duplicates). */
struct wire_usage {
	uint64_t boot_id;
	ns_t mono_ns; /* hypervisor monotonic time the counters were read */
	domid_t next; /* RESP: cursor for the next page, DOMID_INVALID when
	               * complete. METER: always DOMID_INVALID. */
	uint32_t count;
	struct wire_usage_entry e[WIRE_MAX_BATCH];
};

struct wire_domain_list {
	domid_t next; /* cursor for the next page, DOMID_INVALID: complete */
	uint32_t count;
	struct wire_domain d[WIRE_MAX_BATCH]; /* strictly increasing domid */
};

struct wire_hello {
	uint8_t role;                 /* enum wire_role */
	uint8_t proto_min, proto_max; /* 1 <= min <= max */
	uint64_t boot_id;       /* hypervisor: random per boot; controller: 0 */
	uint64_t tsc_hz;        /* hypervisor: TSC rate; controller: 0 */
	ns_t mono_ns;           /* sender's monotonic clock */
	uint32_t total_domains; /* domains that exist; count <= total */
	uint32_t dropped; /* hypervisor: records dropped from the full replay
	                   * log since boot (saturating); controller: 0 */
	uint32_t count;
	struct wire_domain d[WIRE_MAX_BATCH];
};

struct wire_ack {
	uint64_t boot_id; /* the boot whose records are acknowledged */
	uint64_t seq;     /* every record frame with seq <= this is stored */
};

struct wire_create {
	char image[WIRE_NAME_FIELD];
	char name[WIRE_NAME_FIELD];
	uint64_t memory_mb; /* >= 1 */
	struct wire_sched_params sched;
	struct wire_io_limits io;
	uint32_t args_len; /* <= WIRE_ARGS_MAX, printable ASCII 0x20..0x7e */
	char args[WIRE_ARGS_MAX + 1];
};

/* A request. domid: the target of SET_*, PAUSE, UNPAUSE, DESTROY (a real
 * domain); for LIST_DOMAINS and GET_USAGE one domain or DOMID_INVALID for
 * all (then paged from `cursor`); DOMID_INVALID for CREATE and SHUTDOWN. */
struct wire_cmd {
	uint64_t request_id;
	uint16_t op; /* enum wire_op */
	domid_t domid;
	union {
		domid_t cursor; /* LIST_DOMAINS, GET_USAGE; 0 if domid given */
		struct wire_sched_params shares;
		struct wire_io_limits io;
		struct wire_mem_limits mem;
		struct wire_create create;
	} u;
};

/* The answer to the CMD with the same request_id. status is 0 or a negative
 * FS_E* code (fs_errors.h; any value down to WIRE_STATUS_MIN is accepted
 * so that codes appended later pass through); a body is present only when
 * status is 0: LIST_DOMAINS -> list, GET_USAGE -> usage, CREATE -> created;
 * other ops have none. */
#define WIRE_STATUS_MIN (-4095)
struct wire_resp {
	uint64_t request_id;
	uint16_t op;
	int32_t status;
	union {
		struct wire_domain_list list;
		struct wire_usage usage;
		domid_t created;
	} u;
};

struct wire_event {
	uint64_t boot_id;
	ns_t mono_ns;
	domid_t domid; /* 1..DOMID_INVALID-1 */
	uint16_t kind; /* enum wire_event_kind */
	uint16_t why;  /* enum wire_why, of the kind's group; NONE otherwise */
	uint64_t detail;
	char name[WIRE_NAME_FIELD]; /* the domain's name */
};

struct wire_msg {
	uint8_t type; /* enum wire_type: selects the union member */
	union {
		struct wire_hello hello;
		struct wire_usage meter;
		struct wire_ack ack;
		struct wire_cmd cmd;
		struct wire_resp resp;
		struct wire_event event;
	} u;
};

/* Check every field of m against the rules above (the ones the decoder
 * enforces). Returns WIRE_OK, WIRE_REJ_MSG_FIELD or WIRE_REJ_MSG_LENGTH
 * (a count above WIRE_MAX_BATCH), or WIRE_REJ_UNKNOWN_TYPE. */
enum wire_reason wire_msg_check(const struct wire_msg *m);

/* Payload size m encodes to (m must pass wire_msg_check). */
uint32_t wire_msg_size(const struct wire_msg *m);

/* Check m, then write it as one sealed frame (version WIRE_VERSION) into
 * out. Returns the frame size, FS_EINVAL if m fails wire_msg_check (nothing
 * the peer would reject is ever sent), FS_E2BIG if cap is too small, or
 * FS_EINVAL for flags outside WIRE_F_ALL. */
int wire_encode(const struct wire_msg *m, uint64_t seq, uint16_t flags,
                uint8_t *out, size_t cap);

/* Parse and check the payload of a good frame into *m. Returns WIRE_OK,
 * WIRE_REJ_UNKNOWN_TYPE, WIRE_REJ_MSG_LENGTH or WIRE_REJ_MSG_FIELD. On
 * failure *m is unspecified. Never reads outside f->payload[0..f->len). */
enum wire_reason wire_msg_decode(const struct wire_frame *f,
                                 struct wire_msg *m);

/* True if s is a valid name: 1..31 bytes of [A-Za-z0-9_.-], NUL-terminated
 * within WIRE_NAME_FIELD bytes. */
bool wire_name_valid(const char *s);

/* ---- Little-endian helpers (no alignment assumptions) ---- */

static inline void wire_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wire_put_le32(uint8_t *p, uint32_t v)
{
	wire_put_le16(p, (uint16_t)v);
	wire_put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void wire_put_le64(uint8_t *p, uint64_t v)
{
	wire_put_le32(p, (uint32_t)v);
	wire_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t wire_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t wire_get_le32(const uint8_t *p)
{
	return (uint32_t)wire_get_le16(p) | (uint32_t)wire_get_le16(p + 2)
	                                        << 16;
}

static inline uint64_t wire_get_le64(const uint8_t *p)
{
	return (uint64_t)wire_get_le32(p) | (uint64_t)wire_get_le32(p + 4)
	                                        << 32;
}

#endif
