#!/usr/bin/env python3
"""CPU shares under QEMU -icount: BVT weights, a yielder that games quanta,
exact accounting, and the GRUB path giving the same result as the fast one.
"""
import hvtest
from hvtest import ok, note, boot, dom, share, closes

WEIGHTS = """
[hypervisor]
ctx_allow_us = 2000
[domain w1]
image = cpuhog
cpu_weight = 128
[domain w2]
image = cpuhog
cpu_weight = 256
[domain w4]
image = cpuhog
cpu_weight = 512
"""

r, err = boot(WEIGHTS, 5000)
if ok(r is not None, "three cpuhogs with weights 1:2:4 boot and run 5 s", err):
    for name, w in (("w1", 1), ("w2", 2), ("w4", 4)):
        d = dom(r, name)
        got, want = share(d, r), w / 7
        ok(abs(got - want) <= 0.005,
           "%s gets its weight's share within 0.5 pp" % name,
           "share %.4f, weight share %.4f" % (got, want))
        ok(d["report"].get("units", 0) > 0, "%s did work" % name)
    err_rel = closes(r)
    ok(err_rel <= 0.0001,
       "cpu of all domains + idle + hypervisor = elapsed within 0.01%",
       "relative error %.2e (elapsed %d, idle %d, hv %d)" %
       (err_rel, r["elapsed_ns"], r["idle_ns"], r["hv_ns"]))
    ok(0 < r["hv_ns"] < r["elapsed_ns"] // 100,
       "hypervisor time is charged to itself and is under 1%",
       "hv_ns %d" % r["hv_ns"])

YIELD = """
[domain gamer]
image = yielder
args = burst_us=1900
[domain hog]
image = cpuhog
"""
r, err = boot(YIELD, 5000)
if ok(r is not None, "yielder beside cpuhog boots", err):
    y, h = dom(r, "gamer"), dom(r, "hog")
    ok(share(y, r) <= 0.505,
       "a guest yielding just short of each quantum gets at most half + 0.5 pp",
       "yielder %.4f, cpuhog %.4f" % (share(y, r), share(h, r)))
    ok(y["report"].get("yields", 0) > 100, "the yielder really yielded",
       y["report"])

# A guest that yields in a tight loop: each yield's decision and switch must
# be charged to the domains, not hidden in the hypervisor's own time, or the
# yielder would take CPU from its neighbour without paying for it.
SPIN = YIELD.replace("burst_us=1900", "burst_us=0")
r, err = boot(SPIN, 1000)
if ok(r is not None, "a yield-in-a-loop guest beside cpuhog boots", err):
    y, h = dom(r, "gamer"), dom(r, "hog")
    note("yield loop: gamer %.4f hog %.4f hv %.4f, %d yields" %
         (share(y, r), share(h, r), r["hv_ns"] / r["elapsed_ns"],
          y["report"].get("yields", 0)))
    ok(share(h, r) >= 0.495,
       "the cpuhog still gets half when its neighbour yields in a loop",
       share(h, r))
    ok(r["hv_ns"] <= r["elapsed_ns"] // 100,
       "yield decisions are charged to the domains, not to the hypervisor",
       r["hv_ns"])
    ok(hvtest.closes(r) <= 0.0001, "accounting still closes")

# The GRUB ISO (multiboot2) and QEMU's loader (multiboot1) start the same
# kernel; under -icount the runs must be identical.
fast, err1 = boot(WEIGHTS, 1000)
iso, err2 = boot(WEIGHTS, 1000, iso=True)
if ok(fast is not None and iso is not None,
      "the same config boots by GRUB ISO and by QEMU -kernel", err1 + err2):
    ok(iso["boot"] == "iso" and fast["boot"] == "kernel",
       "hvboot reports which path booted")
    keys = ("name", "cpu_ns", "ready_ns", "dispatches", "wakeups", "report")
    same = all(all(a[k] == b[k] for k in keys)
               for a, b in zip(fast["domains"], iso["domains"]))
    ok(same and fast["elapsed_ns"] == iso["elapsed_ns"],
       "both boot paths give identical per-domain results",
       "\n".join("%s %s" % (a, b) for a, b in zip(fast["domains"], iso["domains"])))

hvtest.done()
