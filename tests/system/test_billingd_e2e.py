#!/usr/bin/env python3
"""billingd against the real hypervisor in QEMU (-icount): the usage it
stores in SQLite equals the hypervisor's own end-of-run counters exactly,
for every domain and counter, even with billingd killed -9 in the middle of
ingest and restarted; and the desired shares it holds are pushed to the
hypervisor when the link comes up (read back from the hypervisor's own
report)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "billingd"))
import harness  # noqa: E402
import hvtest  # noqa: E402
from harness import ok  # noqa: E402

CONF = """
[hypervisor]
meter_interval_ms = 100
[domain web]
image = cpuhog
cpu_weight = 256
[domain batch]
image = cpuhog
cpu_weight = 512
[domain db]
image = iohog
disk_mb = 8
io_bps = 4194304
args = req_kb=4 qd=8 mix=70
[domain cache]
image = memgrow
memory_max_mb = 16
args = target_mb=12 end=run
"""
RUN_MS = 6000

d = harness.workdir()
sock = os.path.join(d, "link.sock")
bd = harness.Billingd(d, sock)
r = bd.cmd("--set", "web", "cpu_weight=700")
ok(r.returncode == 0, "desired state set before the hypervisor exists",
   r.stderr)
p, finish = hvtest.start(CONF, RUN_MS, sock, log=os.path.join(d, "hv.log"))
ok(harness.wait_until(lambda: os.path.exists(sock), 120),
   "QEMU made the link socket")
bd.start()


stored_mono = bd.newest_sample_ns


# Kill billingd twice while it ingests (the second time as soon as it has
# stored anything new), restarting it each time.
for k in range(2):
    mark = stored_mono()
    ok(harness.wait_until(lambda: stored_mono() > mark, 300, 0.005),
       "billingd stores METERs from the hypervisor (%d)" % k,
       harness.tail(bd.log))
    bd.kill9()
    bd.start()

res, err = finish()
ok(res is not None, "the hypervisor's run ends normally", err)
# QEMU has exited; billingd reads what is left, then sees the end.
ok(harness.wait_until(lambda: "link down" in open(bd.log).read() and
                      stored_mono() >= RUN_MS * 10**6 - 10**8, 60),
   "billingd stored the final METER", harness.tail(bd.log))
time.sleep(0.2)
bd.stop()

if res:
    boot = bd.sql("SELECT boot_id FROM boots")
    ok(len(boot) == 1, "one boot", boot)
    stored = bd.totals(boot[0][0] % harness.U64)
    fields = [f for f in harness.FIELDS if f in res["domains"][0]]
    bad = []
    for dom in res["domains"]:
        got = stored.get(dom["name"])
        for f in fields:
            if got is None or got[f] % harness.U64 != dom[f]:
                bad.append((dom["name"], f, got and got[f], dom[f]))
    ok(len(fields) >= 12 and not bad,
       "the SQLite totals equal the hypervisor's counters exactly "
       "(%d domains x %d counters)" % (len(res["domains"]), len(fields)),
       bad)
    nz = {dom["name"]: [f for f in fields if dom[f]] for dom in res["domains"]}
    ok(all(dom["cpu_ns"] for dom in res["domains"]) and
       res["domains"][2]["blk_write_bytes"] and
       res["domains"][3]["mem_page_ns"],
       "the run exercised CPU, block I/O and memory", nz)
    dup = bd.sql("SELECT count(*) FROM (SELECT boot, domid, end_ns FROM "
                 "usage_delta GROUP BY 1, 2, 3 HAVING count(*) > 1)")[0][0]
    ok(dup == 0, "no interval stored twice across the kills", dup)
    neg = bd.sql("SELECT count(*) FROM usage_delta WHERE cpu_ns < 0 OR "
                 "blk_read_bytes < 0 OR mem_page_ns < 0")[0][0]
    ok(neg == 0, "no negative delta", neg)
    web = [x for x in res["domains"] if x["name"] == "web"][0]
    ok(web["cpu_weight"] == 700,
       "the desired weight was pushed to the hypervisor (its report says "
       "so)", web["cpu_weight"])
    st = bd.sql("SELECT d.applied_generation = d.generation FROM desired d "
                "JOIN domains n ON n.id = d.domain WHERE n.name = 'web'")
    ok(st == [(1,)], "and billingd recorded it as applied", st)

# The hypervisor boots again (a new boot id): billingd keeps the first
# boot's usage, starts a new series at zero, and pushes the desired weight
# again.
first = stored if res else None
bd.start()
p, finish = hvtest.start(CONF, 3000, sock, log=os.path.join(d, "hv2.log"))
res2, err = finish()
ok(res2 is not None, "the second boot's run ends normally", err)
ok(harness.wait_until(lambda: len(bd.sql("SELECT id FROM boots")) == 2 and
                      "link down" in open(bd.log).read().split(
                          "connected to")[-1], 60),
   "billingd ingested the second boot", harness.tail(bd.log))
time.sleep(0.2)
bd.stop()
if res and res2:
    boots = [b for (b,) in bd.sql("SELECT boot_id FROM boots ORDER BY id")]
    ok(bd.totals(boots[0] % harness.U64) == first,
       "the first boot's usage is kept unchanged")
    stored = bd.totals(boots[1] % harness.U64)
    bad = [(dom["name"], f) for dom in res2["domains"] for f in fields
           if stored.get(dom["name"], {}).get(f, -1) % harness.U64 != dom[f]]
    ok(not bad, "the new boot's series starts at zero and equals its "
       "counters exactly", bad)
    web = [x for x in res2["domains"] if x["name"] == "web"][0]
    ok(web["cpu_weight"] == 700, "the desired weight was re-applied to the "
       "new boot", web["cpu_weight"])
harness.done()
