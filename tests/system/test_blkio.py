#!/usr/bin/env python3
"""Paravirtual block I/O under QEMU -icount: token-bucket rates and bursts,
a noisy neighbour, data integrity with exact counters, and hostile rings.

Rates are measured on the guest's own clock: iohog reports start_ns (its
first submission) and last_ns (when it observed its latest completion).
The buckets have no capacity besides the one-time burst, so over T seconds
a throttled domain moves rate * T + burst, within one request, however long
the guest takes to spend the burst.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import hvlink
import hvtest
from hvtest import ok, note, boot, dom, ROOT

MIB = 1 << 20
NS_PER_S = 10**9


def rep(d):
    return d["report"]


def guest_rate(r, amount, burst):
    """(amount - burst) per second of the guest's first-to-last window."""
    span = r["last_ns"] - r["start_ns"]
    return (amount - burst) * 1e9 / span if span > 0 else 0.0


def rel(got, want):
    return abs(got - want) / want


def boot_images(config_text, run_ms, images):
    """hvtest.boot with another images directory (for disk_image blobs)."""
    path = hvtest.write_config(config_text)
    try:
        p = subprocess.run([hvtest.HVBOOT, "--config", path, "--run-ms",
                            str(run_ms), "--json", "--images", images],
                           capture_output=True, text=True, timeout=900)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        return None, p.stderr
    return json.loads(p.stdout), p.stderr


# --- rates and bursts -----------------------------------------------------
# Two limited domains side by side, each with a one-time burst: one by
# bytes (8 MiB/s, 4 KiB requests), one by operations (2000/s, 64 KiB).
# verify=0: the guests spend no time on patterns, so they take their burst
# as fast as the hypervisor gives it and the buckets alone set the pace
# (data integrity has its own test below).
BPS, BURST_B, REQ_B = 8 * MIB, 1 * MIB, 4096
IOPS, BURST_OPS, REQ_OPS = 2000, 200, 65536
RATES = """
[domain bytes]
image = iohog
memory_mb = 4
disk_mb = 16
io_bps = %d
io_burst_bytes = %d
args = req_kb=4 mix=50 qd=8 seed=1 verify=0
[domain iops]
image = iohog
memory_mb = 4
disk_mb = 16
io_iops = %d
io_burst_ops = %d
args = req_kb=64 mix=50 qd=8 seed=2 verify=0
""" % (BPS, BURST_B, IOPS, BURST_OPS)

r, err = boot(RATES, 5000)
if ok(r is not None, "two rate-limited iohogs boot and run 5 s", err):
    b, o = dom(r, "bytes"), dom(r, "iops")
    rb, ro = rep(b), rep(o)
    note("bytes: %s" % rb)
    note("iops:  %s" % ro)
    got = guest_rate(rb, rb["bytes"], BURST_B)
    ok(rel(got, BPS) <= 0.01,
       "8 MiB/s with 4 KiB requests: (bytes - burst) / time within 1%",
       "%.0f B/s, want %d" % (got, BPS))
    got = guest_rate(ro, ro["ops"], BURST_OPS)
    ok(rel(got, IOPS) <= 0.01,
       "2000 ops/s with 64 KiB requests: (ops - burst) / time within 1%",
       "%.1f ops/s, want %d" % (got, IOPS))
    # Issue 5: the first second moves rate + burst within one request.
    # The burst pays first and opens room in the bucket for the refill
    # earned while it is being spent (accounting/tb.h), so none of the
    # rate is lost to the buckets' capacity of 0 (which clamped it away
    # before: 2194 of 2200 ops).
    want = BPS + BURST_B
    ok(abs(rb["first_s_bytes"] - want) <= REQ_B,
       "burst: the first second moves rate + burst bytes within one "
       "request", "first_s_bytes %d, want %d +- %d" %
       (rb["first_s_bytes"], want, REQ_B))
    want = IOPS + BURST_OPS
    ok(abs(ro["first_s_ops"] - want) <= 1,
       "burst: the first second completes rate + burst ops within one "
       "request", "first_s_ops %d, want %d +- 1" % (ro["first_s_ops"], want))
    for d in (b, o):
        ok(rep(d)["errors"] == 0, "%s: no request failed" % d["name"],
           rep(d))
        ok(d["blk_throttled_ns"] > 0,
           "%s: the wait for the buckets is counted in blk_throttled_ns"
           % d["name"], d["blk_throttled_ns"])

# --- noisy neighbour --------------------------------------------------------
# The waker's p99 wake lateness on an otherwise idle host, then beside an
# unlimited iohog and a limited one; the waker uses warp, the scheduler's
# latency mechanism, in both runs.
WAKER = """
[domain voip]
image = waker
warp_us = 20000
warp_limit_us = 2000
unwarp_us = 5000
args = period_us=10000 burst_us=800
"""
NOISY = WAKER + """
[domain hog]
image = iohog
memory_mb = 4
disk_mb = 16
args = req_kb=4 mix=50 qd=8 seed=3
[domain lim]
image = iohog
memory_mb = 4
disk_mb = 16
io_bps = %d
args = req_kb=4 mix=50 qd=8 seed=4
""" % BPS

idle, err1 = boot(WAKER, 5000)
noisy, err2 = boot(NOISY, 5000)
if ok(idle is not None and noisy is not None,
      "a waker alone, and beside an unlimited and a limited iohog, boot",
      (err1 or "") + (err2 or "")):
    wi, wn = rep(dom(idle, "voip")), rep(dom(noisy, "voip"))
    hog, lim = rep(dom(noisy, "hog")), rep(dom(noisy, "lim"))
    note("waker idle host: wakes %d p50 %d p99 %d max %d ns" %
         (wi["wakes"], wi["p50_ns"], wi["p99_ns"], wi["max_ns"]))
    note("waker noisy:     wakes %d p50 %d p99 %d max %d ns" %
         (wn["wakes"], wn["p50_ns"], wn["p99_ns"], wn["max_ns"]))
    note("hog %d bytes, lim %d bytes" % (hog["bytes"], lim["bytes"]))
    got = guest_rate(lim, lim["bytes"], 0)
    ok(rel(got, BPS) <= 0.01,
       "noisy neighbour: the limited iohog still gets its 8 MiB/s within 1%",
       "%.0f B/s" % got)
    ok(hog["bytes"] > 10 * lim["bytes"],
       "the unlimited iohog really was noisy (10x the limited one)",
       (hog["bytes"], lim["bytes"]))
    ok(wn["wakes"] >= 490 and wn["missed"] == 0,
       "the waker woke every period beside the iohogs", wn)
    # Issue 5: within 2x the idle figure. The copies are the iohogs' own
    # work, done in their time and cut short at the next poll when a
    # wake-up is due; a notify that finds it due runs no pass at all
    # (docs/block-device.md, "Preemptible passes"). 1.64 us vs 0.92 us
    # idle (1.8x); it was 19 us, then 2.4 us. Beside two cpuhogs the same
    # waker measures 1.38 us (the switch from a busy domain alone); the
    # rest is the one step of the hog's pass under way: "Known gaps".
    # p99 is the upper edge of a bucket 4-8 ns wide here (guests/lib/hist.h).
    note("waker p99: %d ns beside iohogs vs %d ns idle (%.2fx, at most 2x)" %
         (wn["p99_ns"], wi["p99_ns"], wn["p99_ns"] / max(wi["p99_ns"], 1)))
    ok(wn["p99_ns"] <= 2 * wi["p99_ns"],
       "the waker's p99 wake lateness beside the iohogs stays within 2x "
       "its idle-host figure",
       "p99 %d ns beside iohogs, %d ns on an idle host" %
       (wn["p99_ns"], wi["p99_ns"]))
    ok(hog["mismatches"] == 0 and lim["mismatches"] == 0,
       "neither iohog read back anything but what it wrote")

# --- live limit changes -----------------------------------------------------
# SET_IO_LIMITS on a running, throttled iohog (qd 8, so requests are always
# queued behind the buckets): the new rate holds from the change on and
# queued requests are kept (no error, every read checks out). The change
# cancels the head's retry timer and hands the queue to the domain's next
# dispatch, waking it: if that failed, the queue would stall and the rate
# read 0. Rates come from the
# hypervisor's own counters and clock (the USAGE command), over at least
# one virtual second after each change.
LIVE = """
[domain io]
image = iohog
memory_mb = 4
disk_mb = 8
io_bps = %d
args = req_kb=4 mix=50 qd=8 region_mb=1
""" % (1 * MIB)
tmp = tempfile.mkdtemp(dir=os.path.join(ROOT, "build"))
try:
    sock = os.path.join(tmp, "link.sock")
    p, finish = hvtest.start(LIVE, 120000, sock)
    L = hvlink.Link(sock)
    L.hello()
    L.recv(120)

    def sample():
        r = L.call("usage", 1, on_other=lambda *a: None)
        e = r["entries"][1]
        return r["mono_ns"], e["blk_read_bytes"] + e["blk_write_bytes"]

    def rate_over(min_ns):
        t0, b0 = sample()
        t1, b1 = t0, b0
        while t1 - t0 < min_ns:
            time.sleep(0.02)
            t1, b1 = sample()
        return (b1 - b0) * 1e9 / (t1 - t0)

    rates = []
    rates.append(rate_over(NS_PER_S))
    for bps in (8 * MIB, 2 * MIB):
        r = L.call("io", 1, hvlink.io_body(bps=bps), on_other=lambda *a: None)
        ok(r["status"] == 0, "SET_IO_LIMITS to %d B/s on a busy queue" % bps,
           r)
        rates.append(rate_over(2 * NS_PER_S))
    L.call("shutdown", on_other=lambda *a: None)
    L.close()
    res, err = finish()
    note("live rates: %s B/s" % ["%.0f" % x for x in rates])
    for got, want in zip(rates, (MIB, 8 * MIB, 2 * MIB)):
        ok(rel(got, want) <= 0.01,
           "after a live change the rate is the new limit within 1%",
           "%.0f B/s, want %d" % (got, want))
    if ok(res is not None, "the live-changed iohog ran to the end", err):
        g = rep(dom(res, "io"))
        ok(g["errors"] == 0 and g["mismatches"] == 0,
           "queued requests survived the changes: no error, no mismatch", g)
finally:
    shutil.rmtree(tmp)

# --- data integrity ---------------------------------------------------------
# 10 s of mixed 8 KiB reads and writes at queue depth 8 under both buckets,
# over a 1 MiB region (128 blocks, each written and read many times, often
# with a write to it still in flight), then a read-back of every block.
# After draining, the guest's own counts must equal the hypervisor's.
INTEGRITY = """
[domain io]
image = iohog
memory_mb = 4
disk_mb = 8
io_bps = 4194304
io_iops = 400
args = req_kb=8 mix=50 qd=8 region_mb=1 duration_ms=10000 readback=1 end=idle
[domain bystander]
image = cpuhog
"""
r, err = boot(INTEGRITY, 10500)
if ok(r is not None, "10 s of throttled mixed I/O at qd 8 boots", err):
    d = dom(r, "io")
    g = rep(d)
    note("io: %s" % g)
    ok(g["read_ops"] > 1000 and g["write_ops"] > 1000,
       "both reads and writes were done", g)
    ok(g["checked_blocks"] == 128,
       "the final read-back covered every block of the region", g)
    ok(g["mismatches"] == 0 and g["errors"] == 0,
       "every block read back what was last written to it", g)
    same = all(g[k] == d["blk_" + k]
               for k in ("read_ops", "write_ops", "read_bytes", "write_bytes"))
    ok(same, "hypervisor counters equal the guest's own counts exactly",
       "guest %s\nhv %s" % (
           [g[k] for k in ("read_ops", "write_ops", "read_bytes",
                           "write_bytes")],
           [d["blk_" + k] for k in ("read_ops", "write_ops", "read_bytes",
                                    "write_bytes")]))
    ok(g["ops"] == g["read_ops"] + g["write_ops"] and
       g["bytes"] == g["read_bytes"] + g["write_bytes"],
       "ops and bytes are the sums of reads and writes", g)

# The checker itself: a disk initialised from an image of non-zero junk
# must show mismatches to a guest that expects a fresh (zeroed) disk, and
# none to one told not to trust never-written blocks.
imgdir = tempfile.mkdtemp(dir=os.path.join(ROOT, "build"))
try:
    guests = os.path.join(ROOT, "build", "guests")
    for f in os.listdir(guests):
        if f.endswith(".elf"):
            os.symlink(os.path.join(guests, f), os.path.join(imgdir, f))
    with open(os.path.join(imgdir, "junk.img"), "wb") as f:
        f.write(bytes((i * 7 + 1) & 0xff for i in range(1 * MIB)))
    JUNK = """
[domain strict]
image = iohog
memory_mb = 4
disk_mb = 1
disk_image = junk
args = req_kb=4 mix=100 qd=4
[domain lenient]
image = iohog
memory_mb = 4
disk_mb = 1
disk_image = junk
args = req_kb=4 mix=50 qd=4 fresh=any
"""
    r, err = boot_images(JUNK, 500, imgdir)
    if ok(r is not None, "iohogs on a disk_image of junk boot", err):
        s, l = rep(dom(r, "strict")), rep(dom(r, "lenient"))
        # live values are read one by one: a completion may fall between
        ok(s["read_ops"] > 0 and s["mismatches"] >= s["read_ops"] - 1,
           "iohog's checker flags every read of data it did not write", s)
        ok(l["mismatches"] == 0 and l["read_ops"] > 0,
           "with fresh=any, reads of written blocks still all match", l)
finally:
    shutil.rmtree(imgdir)

# --- hostile rings ----------------------------------------------------------
BYSTANDER = """
[domain bystander]
image = iohog
memory_mb = 4
disk_mb = 8
io_bps = %d
args = req_kb=4 qd=8
""" % BPS

HOSTILE = """
[domain evil]
image = hostile
memory_mb = 2
disk_mb = 4
args = mode=blk duration_ms=300 end=exit
""" + BYSTANDER
r, err = boot(HOSTILE, 500)
if ok(r is not None, "the hypervisor survives bad rings and bad requests",
      err):
    e, by = dom(r, "evil"), dom(r, "bystander")
    note("evil: %s %s; report %s" % (e["state"], e["exit_reason"], rep(e)))
    ok(rep(e)["rounds"] >= 1 and rep(e)["attempts"] > 30,
       "the hostile guest sent rounds of bad ring pages and requests",
       rep(e))
    ok(rep(e)["bad_ok"] == 0,
       "every bad ring page was refused and every bad request got an "
       "error status", rep(e))
    ok(rep(e)["good_err"] == 0 and rep(e)["no_rsp"] == 0,
       "its legal requests, a full ring of 64 included, all succeeded and "
       "every request was answered", rep(e))
    ok(e["state"] == "exited" and e["exit_reason"] == "done: finished",
       "bad requests did not get the domain killed", e["exit_reason"])
    ok(by["state"] == "running" and rep(by)["ops"] > 0 and
       rep(by)["mismatches"] == 0,
       "the bystander's I/O carried on untouched", rep(by))

# Ring abuses: each must kill the offender, and only it. ringfree may
# instead be refused at the decrease, in which case the domain exits DONE.
for end, what in (("ring", "req_prod more than 64 ahead of rsp_cons"),
                  ("rsp", "rsp_cons beyond rsp_prod"),
                  ("ringfree", "the ring page handed back, then a notify")):
    cfg = """
[domain evil]
image = hostile
memory_mb = 2
disk_mb = 4
args = mode=blk duration_ms=20 end=%s
""" % end + BYSTANDER
    r, err = boot(cfg, 300)
    if ok(r is not None, "end=%s: the hypervisor survives %s" % (end, what),
          err):
        e, by = dom(r, "evil"), dom(r, "bystander")
        note("end=%s: %s: %s" % (end, e["state"], e["exit_reason"]))
        killed = e["state"] == "killed" and bool(e["exit_reason"])
        refused = (end == "ringfree" and e["state"] == "exited" and
                   e["exit_reason"] == "done: finished")
        ok(killed or refused,
           "end=%s: the domain is killed with a reason%s" %
           (end, " (or the decrease refused)" if end == "ringfree" else ""),
           "%s: %s" % (e["state"], e["exit_reason"]))
        ok(rep(e)["bad_ok"] == 0, "end=%s: no bad call accepted" % end,
           rep(e))
        ok(by["state"] == "running" and rep(by)["ops"] > 0 and
           rep(by)["mismatches"] == 0,
           "end=%s: the bystander keeps doing I/O" % end, rep(by))

hvtest.done()
