#!/usr/bin/env python3
"""Scale: the Xen paper's 128 domains, and how many 1 MiB domains fit in a
2 GiB machine (memory is never overcommitted: the rest are refused)."""
import hvtest
from hvtest import ok, note, boot, share

MANY = """
[hypervisor]
ctx_allow_us = 1000
[domain small]
image = cpuhog
memory_mb = 1
count = 128
"""
r, err = boot(MANY, 2000)
if ok(r is not None, "128 domains of 1 MiB boot", err):
    ds = r["domains"]
    ok(len(ds) == 128 and all(d["state"] == "running" for d in ds),
       "all 128 are running", len(ds))
    shares = [share(d, r) for d in ds]
    ok(min(shares) > 0, "every one of them got CPU")
    ok(max(shares) - min(shares) <= 0.002,
       "equal weights get equal shares (within 0.2 pp)",
       "min %.5f max %.5f" % (min(shares), max(shares)))

FIT = """
[hypervisor]
ctx_allow_us = 100
[domain s]
image = cpuhog
memory_mb = 1
count = 4096
"""
r, err = boot(FIT, 1500, memory=2048)
if ok(r is not None, "a 2 GiB machine asked for 4096 domains of 1 MiB", err):
    n = len(r["domains"])
    refused = r.get("refused", [])
    note("%d domains of 1 MiB fit in 2 GiB; %d refused" % (n, len(refused)))
    ok(n >= 1800, "at least 1800 fit", n)
    ok(n + len(refused) == 4096 and
       all("out of memory" in x["reason"] for x in refused),
       "the rest are refused for want of memory, none overcommitted",
       refused[:3])
    ok(all(d["cpu_ns"] > 0 for d in r["domains"]),
       "every one of them gets CPU")

# Near-full memory with a domain whose page tables the old estimate got
# wrong by a frame (odd memory_mb above 1 GiB): refused or created, never a
# panic.
EDGE = """
[domain one]
image = cpuhog
memory_mb = 1
count = 3
[domain two]
image = cpuhog
memory_mb = 2
count = 161
[domain big]
image = cpuhog
memory_mb = 1055
"""
r, err = boot(EDGE, 200, memory=1400)
if ok(r is not None, "a host filled to the last frames boots without a "
      "panic", err):
    names = [d["name"] for d in r["domains"]]
    refused = [x["name"] for x in r.get("refused", [])]
    note("created %d, refused %s" % (len(names), refused))
    ok(len(names) + len(refused) == 165,
       "every domain was either created or refused with a reason")

hvtest.done()
