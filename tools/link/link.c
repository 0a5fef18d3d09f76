/*
 * Hosted management link: socket, output queue, stream decoder. See link.h.
 *
 * The output queue is one growing buffer: frames are appended at tx_len and
 * written from tx_off; when everything is written both go back to 0, and
 * when the written prefix is more than half of the buffer it is moved out
 * of the way, so the queue costs amortised O(1) per byte. Writes use
 * MSG_NOSIGNAL: a peer that went away is an error return, never SIGPIPE.
 */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fs_errors.h"

uint64_t link_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void link_init(struct link *l)
{
	memset(l, 0, offsetof(struct link, rx));
	l->fd = -1;
	l->rx_off = l->rx_len = 0;
	wire_decoder_init(&l->dec);
}

void link_free(struct link *l)
{
	link_close(l);
	free(l->tx);
	l->tx = NULL;
	l->tx_cap = 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int unix_addr(const char *path, struct sockaddr_un *sa, char *err,
                     size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		snprintf(err, errlen, "%s: socket path too long (max %zu)",
		         path, sizeof(sa->sun_path) - 1);
		return -1;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* A fresh connection on fd: empty queues, a new decoder. */
static void attach(struct link *l, int fd)
{
	l->fd = fd;
	l->eof = l->drain = false;
	l->tx_off = l->tx_len = 0;
	l->rx_off = l->rx_len = 0;
	wire_decoder_init(&l->dec);
	l->st.connects++;
	l->last_rx_ns = link_now_ns();
}

int link_connect(struct link *l, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	if (unix_addr(path, &sa, err, errlen))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (set_nonblock(fd)) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	attach(l, fd);
	return 0;
}

int link_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	if (unix_addr(path, &sa, err, errlen))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	/* Backlog 1: like the UART, one peer at a time; a second client
	 * waits in the backlog until the first goes. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0 || set_nonblock(fd) < 0) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int link_accept(struct link *l, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -1;
	attach(l, fd);
	return 0;
}

void link_close(struct link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->eof = l->drain = false;
	l->tx_off = l->tx_len = 0;
	l->rx_off = l->rx_len = 0;
	wire_decoder_init(&l->dec);
}

int link_read(struct link *l)
{
	if (l->fd < 0 || l->eof)
		return -1;
	if (l->rx_off < l->rx_len)
		return 0; /* the caller has not drained link_next() yet */
	ssize_t n = read(l->fd, l->rx, sizeof(l->rx));
	if (n > 0) {
		l->rx_off = 0;
		l->rx_len = (size_t)n;
		l->st.bytes_in += (uint64_t)n;
		l->last_rx_ns = link_now_ns();
		return (int)n;
	}
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	l->eof = true;
	return -1;
}

void link_flush_partial(struct link *l)
{
	/* Reuse the end-of-stream path without closing: eof is cleared
	 * again once the decoder has been drained (link_next). */
	if (!l->eof) {
		l->eof = true;
		l->drain = true;
	}
}

static enum link_ev from_rx(struct link *l, const struct wire_rx *rx,
                            struct link_event *ev)
{
	*ev = (struct link_event){
	    .bytes = rx->bytes,
	    .type = rx->frame.type,
	    .flags = rx->frame.flags,
	    .seq = rx->frame.seq,
	};
	if (rx->kind == WIRE_RX_FRAME) {
		enum wire_reason why = wire_msg_decode(&rx->frame, &l->msg);
		if (why == WIRE_OK) {
			l->st.frames_in++;
			ev->kind = LINK_EV_MSG;
			return LINK_EV_MSG;
		}
		ev->reason = why;
	} else {
		ev->reason = rx->reason;
	}
	if ((unsigned)ev->reason < WIRE_REJ_COUNT)
		l->st.rejects[ev->reason]++;
	l->st.rejected_bytes += rx->bytes;
	ev->kind = LINK_EV_REJECT;
	return LINK_EV_REJECT;
}

enum link_ev link_next(struct link *l, struct link_event *ev)
{
	struct wire_rx rx;
	for (;;) {
		if (wire_decoder_next(&l->dec, &rx) != WIRE_RX_NONE)
			return from_rx(l, &rx, ev);
		if (l->rx_off < l->rx_len) {
			l->rx_off += wire_decoder_feed(
			    &l->dec, l->rx + l->rx_off, l->rx_len - l->rx_off);
			continue;
		}
		if (l->eof) {
			if (wire_decoder_finish(&l->dec, &rx) != WIRE_RX_NONE)
				return from_rx(l, &rx, ev);
			if (l->drain && l->fd >= 0) {
				l->drain = false;
				l->eof = false;
			}
		}
		ev->kind = LINK_EV_NONE;
		return LINK_EV_NONE;
	}
}

static int tx_reserve(struct link *l, size_t n)
{
	if (l->tx_off == l->tx_len) {
		l->tx_off = l->tx_len = 0;
	} else if (l->tx_off > l->tx_cap / 2) {
		memmove(l->tx, l->tx + l->tx_off, l->tx_len - l->tx_off);
		l->tx_len -= l->tx_off;
		l->tx_off = 0;
	}
	if (l->tx_len + n <= l->tx_cap)
		return 0;
	if (l->tx_len + n > LINK_TXMAX)
		return FS_ENOMEM;
	size_t cap = l->tx_cap ? l->tx_cap : 65536;
	while (cap < l->tx_len + n)
		cap *= 2;
	uint8_t *t = realloc(l->tx, cap);
	if (!t)
		return FS_ENOMEM;
	l->tx = t;
	l->tx_cap = cap;
	return 0;
}

int link_send(struct link *l, const struct wire_msg *m, uint64_t seq,
              uint16_t flags)
{
	if (l->fd < 0)
		return FS_EPROTO;
	int rc = tx_reserve(l, WIRE_FRAME_MAX);
	if (rc)
		return rc;
	if (seq == 0)
		seq = ++l->tx_seq;
	int n = wire_encode(m, seq, flags, l->tx + l->tx_len, WIRE_FRAME_MAX);
	if (n < 0)
		return n;
	l->tx_len += (size_t)n;
	l->st.frames_out++;
	return n;
}

int link_send_frame(struct link *l, const uint8_t *frame, size_t len,
                    bool resent)
{
	if (l->fd < 0)
		return FS_EPROTO;
	if (len < WIRE_HDR_SIZE + WIRE_TRAILER_SIZE || len > WIRE_FRAME_MAX)
		return FS_EINVAL;
	int rc = tx_reserve(l, len);
	if (rc)
		return rc;
	uint8_t *out = l->tx + l->tx_len;
	memcpy(out, frame, len);
	if (resent) {
		uint16_t flags = wire_get_le16(out + 6) | WIRE_F_RESENT;
		rc = wire_frame_seal(
		    out, len, out[4], out[5], flags, wire_get_le64(out + 8),
		    (uint32_t)(len - WIRE_HDR_SIZE - WIRE_TRAILER_SIZE));
		if (rc < 0)
			return rc;
	}
	l->tx_len += len;
	l->st.frames_out++;
	return (int)len;
}

int link_flush(struct link *l)
{
	if (l->fd < 0)
		return -1;
	while (l->tx_off < l->tx_len) {
		ssize_t n = send(l->fd, l->tx + l->tx_off,
		                 l->tx_len - l->tx_off, MSG_NOSIGNAL);
		if (n > 0) {
			l->tx_off += (size_t)n;
			l->st.bytes_out += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	l->tx_off = l->tx_len = 0;
	return 0;
}

size_t link_tx_pending(const struct link *l)
{
	return l->tx_len - l->tx_off;
}

int link_flush_wait(struct link *l, int timeout_ms)
{
	uint64_t end = link_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
	for (;;) {
		if (link_flush(l))
			return -1;
		if (!link_tx_pending(l))
			return 0;
		uint64_t now = link_now_ns();
		if (now >= end)
			return -1;
		struct pollfd p = {.fd = l->fd, .events = POLLOUT};
		poll(&p, 1, (int)((end - now) / NS_PER_MS) + 1);
	}
}

uint64_t link_rejects_total(const struct link_stats *st)
{
	uint64_t t = 0;
	for (unsigned i = 1; i < WIRE_REJ_COUNT; i++)
		t += st->rejects[i];
	return t;
}

void link_rejects_format(const struct link_stats *st, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (unsigned i = 1; i < WIRE_REJ_COUNT && off < len; i++) {
		if (!st->rejects[i])
			continue;
		int n =
		    snprintf(buf + off, len - off, "%s%s=%llu", off ? " " : "",
		             wire_reason_name((enum wire_reason)i),
		             (unsigned long long)st->rejects[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(buf, len, "none");
}

static const struct {
	const char *name, *text;
} errs[] = {
    {"FS_OK", "ok"},
    {"FS_EINVAL", "invalid argument"},
    {"FS_ENOENT", "no such domain or image"},
    {"FS_EEXIST", "already exists"},
    {"FS_ENOMEM", "out of memory"},
    {"FS_EBUSY", "busy (wrong state for this)"},
    {"FS_EAGAIN", "try again later"},
    {"FS_EFAULT", "bad address"},
    {"FS_ERANGE", "value out of range"},
    {"FS_EPROTO", "protocol error"},
    {"FS_ENOSYS", "not implemented"},
    {"FS_EPERM", "not permitted"},
    {"FS_E2BIG", "too big"},
};

const char *link_err_name(int code)
{
	if (code > 0 || -code >= (int)(sizeof(errs) / sizeof(errs[0])))
		return "FS_E?";
	return errs[-code].name;
}

const char *link_err_text(int code)
{
	if (code > 0 || -code >= (int)(sizeof(errs) / sizeof(errs[0])))
		return "unknown error";
	return errs[-code].text;
}
