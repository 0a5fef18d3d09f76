#!/usr/bin/env python3
"""The management link against the real hypervisor (COM2 as a QEMU UNIX
socket): HELLO, every command with its refusals, events, METER counters
equal to the hypervisor's own report, resending after a reconnect, and a
link that survives garbage."""
import os
import struct
import tempfile

import hvlink
import hvtest
from hvtest import ok, note, ROOT

CONF = """
[hypervisor]
meter_interval_ms = 200
[domain a]
image = cpuhog
cpu_weight = 256
[domain b]
image = cpuhog
cpu_weight = 512
[domain v]
image = waker
args = period_us=10000 burst_us=500
"""
tmp = tempfile.mkdtemp(dir=os.path.join(ROOT, "build"))
sock = os.path.join(tmp, "link.sock")
log = os.path.join(tmp, "hv.log")
p, finish = hvtest.start(CONF, 40000, sock, log=log)
L = hvlink.Link(sock)
meters, events, seqs = {}, [], []


def other(t, fl, seq, m):
    if t == hvlink.METER:
        meters.update({k: (seq, v) for k, v in m["entries"].items()})
        seqs.append((seq, fl))
    elif t == hvlink.EVENT:
        events.append(m)
        seqs.append((seq, fl))


def wait_meters(n):
    got = 0
    while got < n:
        t, fl, seq, m = L.recv(120)
        other(t, fl, seq, m)
        got += t == hvlink.METER


L.hello()
t, fl, seq, h = L.recv(120)
ok(t == hvlink.HELLO and h["role"] == 1 and h["boot_id"] != 0,
   "the hypervisor answers HELLO with its boot id", h)
ok([d["name"] for d in h["domains"]] == ["a", "b", "v"] and h["total"] == 3,
   "its HELLO lists the domains", h["domains"])
boot_id = h["boot_id"]

r = L.call("list", on_other=other)
ok(r["status"] == 0 and [d["cpu_weight"] for d in r["domains"]] ==
   [256, 512, 256] and r["next"] == hvlink.ALL, "LIST_DOMAINS", r)

r = L.call("shares", 1, hvlink.shares_body(0), on_other=other)
ok(r["status"] == -8, "a weight of 0 is refused (FS_ERANGE)", r)
r = L.call("shares", 1, hvlink.shares_body(300, 0, 0, 0, 4000000000),
           on_other=other)
ok(r["status"] == -8, "unwarp_us beyond one hour is refused", r)
r = L.call("list", 1, on_other=other)
ok(r["domains"][0]["cpu_weight"] == 256, "refused changes change nothing",
   r["domains"])
r = L.call("shares", 1, hvlink.shares_body(1024), on_other=other)
ok(r["status"] == 0, "SET_SHARES applies a valid weight", r)
r = L.call("list", 1, on_other=other)
ok(r["domains"][0]["cpu_weight"] == 1024, "the new weight reads back", r)
r = L.call("io", 1, hvlink.io_body(bps=1 << 50), on_other=other)
ok(r["status"] == -8, "io_bps beyond 12.5e9 is refused", r)
r = L.call("io", 1, hvlink.io_body(bps=1 << 20, iops=100), on_other=other)
d = L.call("list", 1, on_other=other)["domains"][0]
ok(r["status"] == 0 and d["io_bps"] == 1 << 20 and d["io_iops"] == 100,
   "SET_IO_LIMITS applies and reads back", d)
r = L.call("mem", 2, struct.pack("<QQQ", 8, 256, 0), on_other=other)
d = L.call("list", 2, on_other=other)["domains"][0]
ok(r["status"] == 0 and d["memory_max_mb"] == 8 and
   d["mem_growth_pages_per_s"] == 256, "SET_MEM_LIMITS applies", d)
r = L.call("shares", 77, hvlink.shares_body(256), on_other=other)
ok(r["status"] == -2, "an unknown domain is FS_ENOENT", r)

r = L.call("create", body=hvlink.create_body("nosuch", "x", 4),
           on_other=other)
ok(r["status"] == -2, "CREATE from an image never loaded is FS_ENOENT", r)
r = L.call("create", body=hvlink.create_body("cpuhog", "a", 4),
           on_other=other)
ok(r["status"] == -3, "CREATE with a taken name is FS_EEXIST", r)
r = L.call("create", body=hvlink.create_body("cpuhog", "c", 4,
                                             args="bogus_key=1"),
           on_other=other)
ok(r["status"] == -1, "CREATE with an unknown setting is FS_EINVAL", r)
r = L.call("create", body=hvlink.create_body("cpuhog", "c", 4, 256,
                                             "disk_mb=2 arg.report=1"),
           on_other=other)
ok(r["status"] == 0 and r["domid"] == 4, "CREATE makes domain 4", r)
wait_meters(2)
ok(any(e["kind"] == 1 and e["name"] == "c" for e in events),
   "an EVENT says it was created", events)
ok(meters[4][1]["cpu_ns"] > 0, "the new domain runs",
   meters.get(4))

r = L.call("pause", 2, on_other=other)
ok(r["status"] == 0, "PAUSE", r)
ok(L.call("pause", 2, on_other=other)["status"] == -5,
   "pausing a paused domain is FS_EBUSY")
wait_meters(1)
c0 = meters[2][1]["cpu_ns"]
wait_meters(3)
ok(meters[2][1]["cpu_ns"] == c0, "a paused domain gets no CPU",
   (c0, meters[2][1]["cpu_ns"]))
ok(L.call("unpause", 2, on_other=other)["status"] == 0, "UNPAUSE")
wait_meters(3)
ok(meters[2][1]["cpu_ns"] > c0, "unpaused, it runs again",
   (c0, meters[2][1]["cpu_ns"]))
ok([e["kind"] for e in events if e["domid"] == 2] == [6, 7],
   "PAUSED and UNPAUSED events", events)

r = L.call("destroy", 4, on_other=other)
ok(r["status"] == 0, "DESTROY", r)
ok(L.call("destroy", 4, on_other=other)["status"] == -5,
   "destroying a dead domain is FS_EBUSY")
wait_meters(1)
ok([(e["kind"], e["why"]) for e in events if e["domid"] == 4][-2:] ==
   [(5, 19), (3, 0)], "KILLED by the administrator, then DESTROYED",
   events)

# Frames leave in sequence order: a RESP never overtakes a queued METER
# (billingd would take the gap for a lost frame and resynchronise).
fresh = [s for s, t, fl, m in L.log if not fl & hvlink.F_RESENT]
ok(fresh == list(range(fresh[0], fresh[0] + len(fresh))),
   "every frame after HELLO has the next number: replies queue behind "
   "records", [b - a for a, b in zip(fresh, fresh[1:]) if b - a != 1])
# The destroyed domain's final counters come before DESTROYED.
ix = [i for i, (s, t, fl, m) in enumerate(L.log)
      if t == hvlink.EVENT and m["domid"] == 4 and m["kind"] == 3]
pre = L.log[ix[0] - 1] if ix else None
ok(pre and pre[1] == hvlink.METER and list(pre[3]["entries"]) == [4] and
   pre[0] + 1 == L.log[ix[0]][0],
   "a METER with the destroyed domain's final counters precedes DESTROYED",
   pre and pre[:2])
final4 = pre[3]["entries"][4] if pre and pre[1] == hvlink.METER else None
ok(final4 is not None and all(4 not in m.get("entries", {})
                              for s, t, fl, m in L.log[ix[0]:]
                              if t == hvlink.METER),
   "and no METER names it after that")

# Garbage on the line: rejected, and the link goes on.
L.s.sendall(b"\x00garbage\xf5SML\x01\x04" + os.urandom(300))
r = L.call("list", on_other=other)
ok(r["status"] == 0 and len(r["domains"]) == 4,
   "after garbage the link resynchronises and answers", r)

# Records not acknowledged are resent after a reconnect, flagged.
unacked = [s for s, f in seqs]
L.close()
L = hvlink.Link(sock)
ok(L.await_hello()["boot_id"] == boot_id, "same boot id after reconnecting")
resent = []
while True:
    t, fl, seq, m = L.recv(120)
    if not fl & hvlink.F_RESENT:
        break
    resent.append(seq)
ok(resent and set(unacked) <= set(resent) and resent == sorted(resent),
   "every unacknowledged record comes again, in order, flagged RESENT",
   (len(unacked), len(resent)))
L.ack(boot_id, seq)
acked = seq
# A command answered after the ACK proves the ACK was read (QEMU drops
# what it has not read from the socket when the peer hangs up).
L.call("list", 1)
L.close()
L = hvlink.Link(sock)
L.await_hello()
again = []
for _ in range(3):
    t, fl, seq, m = L.recv(120)
    if fl & hvlink.F_RESENT and seq <= acked:
        again.append(seq)
ok(t != hvlink.HELLO and not again,
   "acknowledged records are not sent again", again)

# To the end: the last METER equals the report, counter for counter (a
# destroyed domain's last counters came before the reconnects).
last = {k: v for k, (sq, v) in meters.items()}
L.drain_meters(boot_id, last)
res, err = finish()
ok(res is not None, "the run ends normally", err)
if res:
    names = ["cpu_ns", "ready_ns", "warped_ns", "dispatches", "wakeups",
             "hypercalls", "blk_read_ops", "blk_write_ops", "mem_pages",
             "mem_page_ns"]
    bad = [(d["name"], k, d[k], last.get(d["id"], {}).get(k))
           for d in res["domains"] for k in names
           if last.get(d["id"], {}).get(k) != d[k]]
    ok(not bad, "the final METER equals the hypervisor's report exactly",
       bad)
    d4 = [d for d in res["domains"] if d["id"] == 4]
    bad = [(k, d4[0][k], final4.get(k)) for k in names
           if d4 and final4 and d4[0][k] != final4.get(k)]
    ok(d4 and final4 and not bad,
       "the METER before DESTROYED held the destroyed domain's final "
       "counters", bad)
with open(log) as f:
    text = f.read()
ok("rejected" in text or "bytes rejected" in text,
   "the hypervisor logged the garbage it rejected")
hvtest.done()
