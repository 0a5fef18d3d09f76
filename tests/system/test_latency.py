#!/usr/bin/env python3
"""Wake-up latency as the guest itself measures it: a waker among four
cpuhogs, with and without warp (BVT's latency mechanism)."""
import hvtest
from hvtest import ok, note, boot, dom

HOGS = "".join("[domain hog%d]\nimage = cpuhog\n" % i for i in range(4))
WARP = """
[domain voip]
image = waker
warp_us = 20000
warp_limit_us = 2000
unwarp_us = 5000
args = period_us=10000 burst_us=800
""" + HOGS
NOWARP = """
[domain voip]
image = waker
args = period_us=10000 burst_us=800
""" + HOGS

w, err1 = boot(WARP, 5000)
n, err2 = boot(NOWARP, 5000)
if ok(w is not None and n is not None, "waker + four cpuhogs boot, with and "
      "without warp", err1 + err2):
    wr, nr = dom(w, "voip")["report"], dom(n, "voip")["report"]
    note("warp:    wakes %d p50 %d ns p99 %d ns max %d ns" %
         (wr["wakes"], wr["p50_ns"], wr["p99_ns"], wr["max_ns"]))
    note("no warp: wakes %d p50 %d ns p99 %d ns max %d ns" %
         (nr["wakes"], nr["p50_ns"], nr["p99_ns"], nr["max_ns"]))
    ok(wr["wakes"] >= 450, "the warped waker woke every period", wr)
    ok(wr["p99_ns"] <= 100000, "with warp, p99 wake lateness <= 100 us",
       wr)
    ok(nr["p99_ns"] >= 10 * max(wr["p99_ns"], 1),
       "without warp, p99 lateness is at least 10x larger", nr)
    ok(dom(w, "voip")["warped_ns"] > 0, "the waker ran warped")
    hog = [dom(w, "hog%d" % i)["cpu_ns"] for i in range(4)]
    ok(max(hog) - min(hog) <= w["elapsed_ns"] * 0.005,
       "the cpuhogs still share the rest equally", hog)

hvtest.done()
