#!/usr/bin/env python3
"""billingd away longer than the hypervisor's replay log covers: the
hypervisor drops its oldest records and says how many in its next HELLO;
billingd logs it and keeps it in the stats table, and because counters are
cumulative the stored totals still equal the hypervisor's counters."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Billingd, Peer, compare, done, ok, tail, wait_until,
                     workdir)

d = workdir()
sock = os.path.join(d, "link.sock")
b = Billingd(d, sock)
# 20 domains metered every 100 ms of simulated time at 10x speed: about
# 25 KiB of records a wall second against a 64 KiB log.
peer = Peer(d, sock, domains=20, speed=10, run_ms=60000,
            extra=["--meter-interval-ms", "100", "--replay-kib", "64"])
peer.start()
b.start()
ok(wait_until(lambda: b.sql("SELECT count(*) FROM samples")[0][0] > 0, 15),
   "billingd ingests", tail(b.log))
b.kill9()
wait_until(lambda: False, 4)  # away for ~40 s of simulated time
b.start()
ok(wait_until(lambda: "replay log" in open(b.log).read(), 15),
   "billingd logs that the hypervisor dropped records", tail(b.log))
ok(wait_until(lambda: (b.sql("SELECT value FROM stats WHERE "
                             "name='hv_replay_dropped'") or [(0,)])[0][0] > 0,
              15), "and keeps the count in its stats table")
# The run ends at run_ms of simulated time (6 s here); its last METER
# must be stored before the peer is stopped.
ok(wait_until(lambda: b.final_stored(peer.final_ns, 20), 30),
   "the final METER is stored", tail(b.log))
dump = peer.stop()
b.stop()
stored = b.totals(dump["boot_id"])
diffs = compare(stored, dump)
ok(not diffs, "totals still equal the hypervisor's counters exactly",
   "\n".join(diffs[:10]))
done()
