#!/usr/bin/env python3
"""The replay log's bound, against the real hypervisor: a controller that
never acknowledges fills it; the oldest records are dropped, the next HELLO
says how many, only the newest are resent, and because counters are
cumulative the last METER still equals the hypervisor's own report."""
import os
import tempfile

import hvlink
import hvtest
from hvtest import ok, ROOT

# 64 KiB of log, three domains metered every 10 ms: a METER is about
# 24 + 3 x 120 bytes of payload plus framing, so the log holds about 150
# of them, 1.5 s; the run lasts 4 s.
CONF = """
[hypervisor]
meter_interval_ms = 10
replay_kb = 64
[domain a]
image = cpuhog
[domain b]
image = cpuhog
[domain c]
image = cpuhog
"""
tmp = tempfile.mkdtemp(dir=os.path.join(ROOT, "build"))
sock = os.path.join(tmp, "link.sock")
log = os.path.join(tmp, "hv.log")
p, finish = hvtest.start(CONF, 4000, sock, log=log)
L = hvlink.Link(sock)
L.hello()
t, fl, seq, h = L.recv(120)
ok(t == hvlink.HELLO and h["dropped"] == 0,
   "the first HELLO reports no dropped records", h.get("dropped"))
boot_id = h["boot_id"]
first = None
while True:  # read, never acknowledge, until 2.5 s of virtual time
    t, fl, seq, m = L.recv(120)
    if t == hvlink.METER:
        first = first or seq
        if m["mono_ns"] > 2500 * 10**6:
            break
sent = seq
L.close()

L = hvlink.Link(sock)
h = L.await_hello()
ok(h["dropped"] > 0,
   "after the log overflowed, HELLO counts the dropped records",
   h.get("dropped"))
resent = []
last = {}
while True:
    t, fl, s, m = L.recv(120)
    if not fl & hvlink.F_RESENT:
        break
    resent.append(s)
    if t == hvlink.METER:
        last.update(m["entries"])
# (The hypervisor may have sent a few more after the last one read here:
# those come again too, flagged.)
ok(resent and resent[0] > first and resent[-1] >= sent and
   resent == list(range(resent[0], resent[-1] + 1)),
   "only the newest records are resent, every one, in order",
   (first, resent[:1], resent[-1:], sent))
# Every frame from the first METER on was a record (no commands, no
# events), so the records missing at the front are exactly the dropped.
ok(resent and resent[0] - first == h["dropped"],
   "what is missing at the front is exactly what HELLO said was dropped",
   (first, resent[:1], h["dropped"]))
L.ack(boot_id, s)
L.drain_meters(boot_id, last)
res, err = finish()
ok(res is not None, "the run ends normally", err)
if res:
    bad = [(d["name"], k) for d in res["domains"]
           for k in ("cpu_ns", "dispatches", "hypercalls")
           if last.get(d["id"], {}).get(k) != d[k]]
    ok(not bad, "counters are cumulative: the last METER still equals the "
       "report after the drops", bad)
with open(log) as f:
    ok("replay log full: dropped" in f.read(),
       "the hypervisor logged the drops")
hvtest.done()
