"""The management link's wire format in Python, for the system tests: a
controller that talks to the real hypervisor's COM2 (QEMU UNIX socket).

Layouts: docs/management-protocol.md. Only what the tests need: HELLO,
ACK and CMD out; HELLO, METER, RESP and EVENT in.
"""
import socket
import struct
import time

MAGIC = b"\xf5SML"
HELLO, METER, ACK, CMD, RESP, EVENT = 1, 2, 3, 4, 5, 6
F_RESENT = 1
OP = dict(list=1, usage=2, shares=3, io=4, mem=5, pause=6, unpause=7,
          destroy=8, create=9, shutdown=10)
ALL = 0xFFFFFFFF
COUNTERS = ["cpu_ns", "ready_ns", "cap_throttled_ns", "warped_ns",
            "dispatches", "wakeups", "hypercalls", "blk_read_ops",
            "blk_write_ops", "blk_read_bytes", "blk_write_bytes",
            "blk_throttled_ns", "mem_pages", "mem_page_ns"]

_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def frame(ftype, seq, payload, flags=0):
    h = MAGIC + struct.pack("<BBHQI", 1, ftype, flags, seq, len(payload))
    h += struct.pack("<I", crc32c(h))
    f = h + payload
    return f + struct.pack("<I", crc32c(f))


def _name(b):
    return b.split(b"\0", 1)[0].decode()


def _domain(b):
    domid, state = struct.unpack_from("<IB", b, 0)
    mem, = struct.unpack_from("<Q", b, 40)
    w, cap, warp, wl, uw = struct.unpack_from("<IIQQQ", b, 48)
    io = struct.unpack_from("<QQQQ", b, 80)
    mm = struct.unpack_from("<QQQ", b, 112)
    return dict(domid=domid, state=state, name=_name(b[8:40]),
                memory_mb=mem, cpu_weight=w, cpu_cap_pct=cap, warp_us=warp,
                warp_limit_us=wl, unwarp_us=uw, io_bps=io[0],
                io_iops=io[1], io_burst_bytes=io[2], io_burst_ops=io[3],
                memory_max_mb=mm[0], mem_growth_pages_per_s=mm[1],
                mem_growth_burst_pages=mm[2])


def _usage(b):
    boot, mono, count, nxt = struct.unpack_from("<QQII", b, 0)
    ents = {}
    for i in range(count):
        off = 24 + 120 * i
        domid, = struct.unpack_from("<I", b, off)
        vals = struct.unpack_from("<14Q", b, off + 8)
        ents[domid] = dict(zip(COUNTERS, vals))
    return dict(boot_id=boot, mono_ns=mono, next=nxt, entries=ents)


def decode(ftype, p):
    if ftype == HELLO:
        role, pmin, pmax, count = struct.unpack_from("<BBBxI", p, 0)
        boot, tsc, mono, total, dropped = struct.unpack_from("<QQQII", p, 8)
        doms = [_domain(p[40 + 136 * i:176 + 136 * i]) for i in range(count)]
        return dict(role=role, boot_id=boot, tsc_hz=tsc, mono_ns=mono,
                    total=total, dropped=dropped, domains=doms)
    if ftype == METER:
        return _usage(p)
    if ftype == RESP:
        rid, op, status = struct.unpack_from("<QHxxi", p, 0)
        r = dict(request_id=rid, op=op, status=status)
        if status == 0 and op == OP["list"]:
            count, nxt = struct.unpack_from("<II", p, 16)
            r["next"] = nxt
            r["domains"] = [_domain(p[24 + 136 * i:160 + 136 * i])
                            for i in range(count)]
        elif status == 0 and op == OP["usage"]:
            r.update(_usage(p[16:]))
        elif status == 0 and op == OP["create"]:
            r["domid"], = struct.unpack_from("<I", p, 16)
        return r
    if ftype == EVENT:
        boot, mono, domid, kind, why, detail = struct.unpack_from(
            "<QQIHHQ", p, 0)
        return dict(boot_id=boot, mono_ns=mono, domid=domid, kind=kind,
                    why=why, detail=detail, name=_name(p[32:64]))
    return {}


class Link:
    """A controller connected to a hypervisor's link socket."""

    def __init__(self, path, timeout=60):
        end = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > end:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.seq = 0
        self.rid = 0
        self.rejects = 0
        self.log = []  # every good frame received: (seq, type, flags, msg)

    def close(self):
        self.s.close()

    def send(self, ftype, payload):
        self.seq += 1
        self.s.sendall(frame(ftype, self.seq, payload))

    def hello(self):
        self.send(HELLO, struct.pack("<BBBxIQQQI4x", 2, 1, 1, 0, 0, 0,
                                     int(time.monotonic() * 1e9), 0))

    def await_hello(self, timeout=120):
        """Say HELLO on a reconnection and return the hypervisor's answer.
        The hypervisor cannot see a controller go, so it goes on sending:
        records that reach the new connection before the answer are
        skipped here (they come again among the resends)."""
        self.hello()
        while True:
            t, fl, seq, m = self.recv(timeout)
            if t == HELLO:
                return m

    def drain_meters(self, boot_id, last):
        """To the end of the run: acknowledge every METER and put its
        counters into last (domid -> counters)."""
        try:
            while True:
                t, fl, seq, m = self.recv(300)
                if t == METER:
                    last.update(m["entries"])
                    self.ack(boot_id, seq)
        except (EOFError, TimeoutError):
            pass

    def ack(self, boot_id, seq):
        self.send(ACK, struct.pack("<QQ", boot_id, seq))

    def cmd(self, op, domid=ALL, body=b""):
        if op in ("list", "usage") and not body:
            body = struct.pack("<I4x", 0)  # cursor
        self.rid += 1
        self.send(CMD, struct.pack("<QHxxI", self.rid, OP[op], domid) + body)
        return self.rid

    def recv(self, timeout=30):
        """The next good frame as (type, flags, seq, message)."""
        end = time.time() + timeout
        while True:
            i = self.buf.find(MAGIC)
            if i < 0:
                self.buf = self.buf[-3:]
            else:
                self.buf = self.buf[i:]
                if len(self.buf) >= 24:
                    h = self.buf[:24]
                    if crc32c(h[:20]) != struct.unpack_from("<I", h, 20)[0]:
                        self.buf = self.buf[1:]
                        self.rejects += 1
                        continue
                    _, ftype, flags, seq, ln = struct.unpack_from(
                        "<BBHQI", h, 4)
                    if len(self.buf) >= 28 + ln:
                        f = self.buf[:24 + ln]
                        ok = crc32c(f) == struct.unpack_from(
                            "<I", self.buf, 24 + ln)[0]
                        self.buf = self.buf[28 + ln:] if ok else self.buf[1:]
                        if ok:
                            m = decode(ftype, f[24:])
                            self.log.append((seq, ftype, flags, m))
                            return ftype, flags, seq, m
                        self.rejects += 1
                        continue
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no frame from the hypervisor")
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except ConnectionResetError:
                # QEMU exited with our ACKs unread; everything it sent
                # was read first (Linux reports the reset only then).
                data = b""
            if not data:
                raise EOFError("link closed")
            self.buf += data

    def call(self, op, domid=ALL, body=b"", timeout=30, on_other=None):
        """Send a CMD and wait for its RESP; other frames go to on_other."""
        rid = self.cmd(op, domid, body)
        while True:
            t, fl, seq, m = self.recv(timeout)
            if t == RESP and m["request_id"] == rid:
                return m
            if on_other:
                on_other(t, fl, seq, m)


def shares_body(cpu_weight, cpu_cap_pct=0, warp_us=0, warp_limit_us=0,
                unwarp_us=0):
    return struct.pack("<IIQQQ", cpu_weight, cpu_cap_pct, warp_us,
                       warp_limit_us, unwarp_us)


def io_body(bps=0, iops=0, burst_bytes=0, burst_ops=0):
    return struct.pack("<QQQQ", bps, iops, burst_bytes, burst_ops)


def create_body(image, name, memory_mb, cpu_weight=256, args=""):
    a = args.encode()
    return (image.encode().ljust(32, b"\0") + name.encode().ljust(32, b"\0")
            + struct.pack("<Q", memory_mb) + shares_body(cpu_weight)
            + io_body() + struct.pack("<I", len(a)) + a)
