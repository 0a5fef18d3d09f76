#!/usr/bin/env python3
"""Memory reservations under QEMU -icount: the ceiling, the growth bucket,
mem_page_ns against the guest's own timeline, pages handed back reused
(zeroed) by another domain, and bad reservation calls."""
import hvtest
from hvtest import ok, note, boot, dom

PAGES_PER_MB = 256


def rep(d):
    return d["report"]


# --- ceiling, growth bucket, exact integral --------------------------------
# 2 MiB initial, 16 MiB ceiling, growth 1000 pages/s with a one-time burst
# of 256 pages, in calls of 128. memgrow grows to the ceiling, tries one
# page beyond it, holds, gives everything back and exits, so its timeline
# and the hypervisor's mem_page_ns both end at the exit.
RATE, BURST, STEP = 1000, 256, 128
INITIAL, CEILING = 2 * PAGES_PER_MB, 16 * PAGES_PER_MB
GROW = """
[domain mg]
image = memgrow
memory_mb = 2
memory_max_mb = 16
mem_growth_pages_per_s = %d
mem_growth_burst_pages = %d
args = target_mb=16 step_pages=%d over=1 hold_ms=200 shrink=1 end=exit
[domain bystander]
image = cpuhog
""" % (RATE, BURST, STEP)

r, err = boot(GROW, 5000)
if ok(r is not None, "memgrow under a ceiling and a growth bucket boots",
      err):
    d = dom(r, "mg")
    g = rep(d)
    note("memgrow: %s" % g)
    note("hv: mem_pages %d mem_page_ns %d" % (d["mem_pages"],
                                               d["mem_page_ns"]))
    ok(d["state"] == "exited" and d["exit_reason"] == "done: finished",
       "memgrow grew, shrank and exited normally", d["exit_reason"])
    ok(g["granted_pages"] == CEILING - INITIAL and
       g["max_pages_seen"] == CEILING,
       "it grew exactly to memory_max_mb", g)
    ok(g["refused_max"] == 1,
       "growth beyond memory_max_mb is refused (FS_ERANGE)", g)
    ok(g["refused_growth"] > 0 and g["retry_again"] == 0,
       "the bucket refused growth, and each retry at the given retry_ns "
       "was granted", g)
    ok(g["max_1s_pages"] <= RATE + BURST + STEP,
       "growth in any 1 s window never beats rate + burst (+ one call)",
       "max_1s_pages %d, bound %d" % (g["max_1s_pages"],
                                      RATE + BURST + STEP))
    floor_ns = (g["granted_pages"] - BURST - STEP) * 10**9 // RATE
    ok(g["grow_ns"] >= floor_ns,
       "growing to the ceiling takes at least (pages - burst) / rate",
       "grow_ns %d, floor %d" % (g["grow_ns"], floor_ns))
    ok(g["grow_ns"] <= (g["granted_pages"] - BURST) * 10**9 // RATE * 1.05,
       "and not much longer: the guest got the bucket's rate",
       g["grow_ns"])
    rel = abs(d["mem_page_ns"] - g["page_ns_guest"]) / d["mem_page_ns"]
    ok(rel <= 0.001,
       "mem_page_ns equals the guest's own integral within 0.1%",
       "hv %d, guest %d, relative %.2e" % (d["mem_page_ns"],
                                           g["page_ns_guest"], rel))
    ok(g["nonzero_pages"] == 0 and g["refused_args"] == 0,
       "every granted page read zero; no call was malformed", g)
    ok(g["pages"] == INITIAL, "it gave back everything above its initial "
       "memory", g)
    ok(dom(r, "bystander")["state"] == "running", "the bystander runs on")

# --- pages handed back are reused, zeroed -----------------------------------
# A 64 MiB machine. Domain a takes every page the host has (no ceiling, no
# bucket: it grows until the host refuses a single page), dirties them,
# gives them back and idles. One second later domain b does the same: what
# it gets can only be what a returned, and must read as zeros.
REUSE = """
[domain a]
image = memgrow
memory_mb = 2
memory_max_mb = 0
args = target_mb=0 hold_ms=100 shrink=1 end=run
[domain b]
image = memgrow
memory_mb = 2
memory_max_mb = 0
args = target_mb=0 delay_ms=1000 shrink=0 end=run
"""
r, err = boot(REUSE, 2000, memory=64)
if ok(r is not None, "two memgrows on a 64 MiB host boot", err):
    a, b = dom(r, "a"), dom(r, "b")
    ga, gb = rep(a), rep(b)
    note("a: %s" % ga)
    note("b: %s" % gb)
    ok(ga["refused_host"] > 0 and ga["granted_pages"] > 8 * PAGES_PER_MB,
       "a filled the host until a one-page grow was refused (FS_ENOMEM)",
       ga)
    ok(ga["pages"] == INITIAL and a["mem_pages"] == INITIAL and
       ga["phase"] == 5, "a gave every grown page back", ga)
    ok(gb["first_grant_ns"] > ga["last_grant_ns"],
       "b grew only after a had shrunk", (ga, gb))
    ok(gb["granted_pages"] >= ga["granted_pages"] * 0.98,
       "b got (nearly) all the pages a handed back",
       "a %d, b %d" % (ga["granted_pages"], gb["granted_pages"]))
    ok(gb["refused_host"] > 0, "b too was stopped only by the host", gb)
    ok(gb["nonzero_pages"] == 0 and ga["nonzero_pages"] == 0,
       "the reused pages, dirtied by a, read as zeros in b", gb)
    ok(a["state"] == "running" and b["state"] == "running",
       "both domains are still running")

# --- bad reservation calls ---------------------------------------------------
HOSTILE = """
[domain evil]
image = hostile
memory_mb = 2
memory_max_mb = 4
args = mode=mem duration_ms=300 end=exit
[domain bystander]
image = cpuhog
"""
r, err = boot(HOSTILE, 500)
if ok(r is not None, "the hypervisor survives bad memory calls", err):
    e, by = dom(r, "evil"), dom(r, "bystander")
    note("evil: %s %s; report %s" % (e["state"], e["exit_reason"], rep(e)))
    ok(rep(e)["rounds"] >= 1 and rep(e)["attempts"] > 30,
       "the hostile guest made rounds of bad memory calls", rep(e))
    ok(rep(e)["bad_ok"] == 0,
       "misaligned, out-of-window, oversized, double-populate, free-a-free-"
       "page and bad-status calls were all refused, changing nothing",
       rep(e))
    ok(rep(e)["good_err"] == 0,
       "its legal grow and give-back between them succeeded", rep(e))
    ok(e["state"] == "exited" and e["exit_reason"] == "done: finished",
       "bad memory calls did not get the domain killed", e["exit_reason"])
    ok(e["mem_pages"] == 0 or e["mem_pages"] == 2 * PAGES_PER_MB,
       "it ended holding its initial memory (or none, once exited)",
       e["mem_pages"])
    ok(by["state"] == "running", "the bystander runs on")

hvtest.done()
