/*
 * The management link on a hosted machine: one byte stream (a UNIX stream
 * socket; under QEMU the hypervisor's COM2) carrying the frames of
 * accounting/wire.h. billingd and hvctl are clients of the socket (QEMU's
 * `-serial unix:PATH,server=on,wait=off` listens); hvsim --serve-link is
 * the server, one peer at a time, like the UART.
 *
 * This module owns the byte level only: non-blocking socket, an output
 * queue that never blocks the caller, the stream decoder (one per
 * connection direction) and the per-reason reject counts. Protocol
 * behaviour (HELLO, ACK, resends, commands) belongs to the users: billingd's
 * session, hvctl, hvsim's server.
 *
 * Receiving: after link_read() has put bytes in, call link_next() until it
 * returns LINK_EV_NONE. Every delivered frame's payload is decoded into
 * l->msg with wire_msg_decode(); a payload that fails is a reject too
 * (msg_length / msg_field), so the caller sees each received byte exactly
 * once, in a message or in a reject. At end of stream (EOF, an error, or an
 * idle timeout the caller chose) link_next() drains the decoder with
 * wire_decoder_finish(), so a frame cut short is reported as truncated.
 *
 * Not thread-safe: one thread owns a struct link.
 */
#ifndef LINK_H
#define LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounting/wire.h"

/* Bytes read from the socket per read(): big enough that a burst of full
 * METER frames (7.7 KB each) is taken in a few calls. */
#define LINK_RXBUF 65536u
/* The output queue grows up to this; a peer that does not read for so long
 * is disconnected by the caller (link_send() returns FS_ENOMEM). 64 MiB is
 * more than a full replay of 2000 domains' METERs for four minutes. */
#define LINK_TXMAX (64u << 20)

struct link_stats {
	uint64_t connects; /* connections made or accepted */
	uint64_t bytes_in, bytes_out;
	uint64_t frames_in; /* good frames with a good message */
	uint64_t frames_out;
	uint64_t rejects[WIRE_REJ_COUNT]; /* per reason, all connections */
	uint64_t rejected_bytes;
};

enum link_ev {
	LINK_EV_NONE =
	    0,          /* nothing buffered: read more (or the stream ended) */
	LINK_EV_MSG,    /* a good frame; the message is in l->msg */
	LINK_EV_REJECT, /* bytes dropped, for ev.reason */
};

struct link_event {
	enum link_ev kind;
	enum wire_reason reason; /* rejects */
	uint32_t bytes;          /* bytes of the frame or reject */
	/* Frame header, for messages and for rejects whose header was good
	 * (0 otherwise). */
	uint8_t type;
	uint16_t flags;
	uint64_t seq;
};

struct link {
	int fd;     /* -1: not connected */
	bool eof;   /* the stream ended: link_next() drains the decoder */
	bool drain; /* eof only until drained (link_flush_partial) */
	struct link_stats st;
	uint64_t tx_seq;     /* sequence number of our last frame (0: none) */
	uint64_t last_rx_ns; /* host monotonic time of the last byte read */
	struct wire_msg msg; /* the message of the last LINK_EV_MSG */

	uint8_t *tx; /* output queue: tx[tx_off..tx_len) unsent */
	size_t tx_off, tx_len, tx_cap;
	uint8_t rx[LINK_RXBUF]; /* read, not yet fed: rx[rx_off..rx_len) */
	size_t rx_off, rx_len;
	struct wire_decoder dec;
};

/* Host monotonic clock, ns. */
uint64_t link_now_ns(void);

/* A closed link (fd -1), zero statistics. l is big (~100 KiB): allocate it
 * statically or on the heap. */
void link_init(struct link *l);
/* Free the output queue; close the socket. */
void link_free(struct link *l);

/* Connect to the UNIX socket at path (blocking connect, then non-blocking
 * I/O). 0, or -1 with the reason in err. The link must be closed. */
int link_connect(struct link *l, const char *path, char *err, size_t errlen);

/* A listening socket at path (an old socket file there is removed first);
 * the fd, or -1 with the reason in err. */
int link_listen(const char *path, char *err, size_t errlen);
/* Accept one peer from lfd into the closed link l: 0, or -1 (nothing to
 * accept now, or an error). */
int link_accept(struct link *l, int lfd);

/* Close the connection (fd -1) and forget unsent output and undecoded
 * input, without reporting it: call after link_next() returned
 * LINK_EV_NONE with l->eof set if the rejects of a cut-off frame matter.
 * Statistics and tx_seq stay. */
void link_close(struct link *l);

/* Read what the socket has. Returns bytes read (> 0), 0 when nothing is
 * available, -1 at end of stream or on an error (l->eof is then set and
 * link_next() drains the decoder). */
int link_read(struct link *l);

/* The stream is to be treated as ended without a disconnect (an idle
 * timeout): a buffered partial frame is reported as truncated by the next
 * link_next() calls, then decoding starts afresh. */
void link_flush_partial(struct link *l);

/* Next message or reject from the buffered input (see top of file). */
enum link_ev link_next(struct link *l, struct link_event *ev);

/* Queue m as one frame with sequence number seq (0: the next of our own,
 * ++tx_seq) and flags. Returns the frame size, FS_EINVAL if m is invalid
 * (never sent), FS_ENOMEM if the queue would exceed LINK_TXMAX, or
 * FS_EPROTO if the link is closed. Nothing is written until link_flush(). */
int link_send(struct link *l, const struct wire_msg *m, uint64_t seq,
              uint16_t flags);
/* Queue an already sealed frame; with `resent`, first set the RESENT flag
 * and reseal it (the stored copy is not changed). Same returns. */
int link_send_frame(struct link *l, const uint8_t *frame, size_t len,
                    bool resent);
/* Write as much queued output as the socket takes. 0, or -1 if the peer
 * has gone (the caller closes). */
int link_flush(struct link *l);
/* Bytes queued and not yet written. */
size_t link_tx_pending(const struct link *l);
/* Flush, waiting up to timeout_ms for the socket to take everything.
 * 0 when all is written, -1 on an error or timeout. */
int link_flush_wait(struct link *l, int timeout_ms);

/* "FS_EINVAL" for a negative FS_E* code ("FS_OK" for 0, "FS_E?" unknown)
 * and a short description. */
const char *link_err_name(int code);
const char *link_err_text(int code);

/* Total rejects over all reasons. */
uint64_t link_rejects_total(const struct link_stats *st);
/* "garbage=1 header_crc=2 ..." (non-zero reasons only, "none" if none). */
void link_rejects_format(const struct link_stats *st, char *buf, size_t len);

#endif
