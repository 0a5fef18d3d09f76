#!/usr/bin/env python3
"""A large host: hvsim with 2000 domains metered every simulated second at
50 times real time (100,000 domain-samples per wall second). billingd keeps
up: every sample is stored, the hypervisor's replay buffer never overflows,
and the lag from a METER round to its ACK stays bounded.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Billingd, Peer, compare, done, ok, tail, wait_until, workdir

N = 2000
SECONDS = 60  # simulated: 1.2 s of wall time at speed 50
LAG_BOUND_MS = 2000  # 100 rounds' worth at this speed

d = workdir()
sock = os.path.join(d, "link.sock")
b = Billingd(d, sock)
b.start()
peer = Peer(d, sock, domains=N, speed=50, run_ms=SECONDS * 1000,
            extra=["--replay-kib", "65536"])
peer.start()
ok(wait_until(lambda: b.final_stored(peer.final_ns, N), 60),
   "final_round_of_%d_domains_stored" % N, tail(b.log))
dump = peer.stop()
b.stop()
link = dump["link"]
ns = b.sql("SELECT count(*) FROM samples")[0][0]
ok(ns == N * SECONDS, "every_sample_stored", "%d of %d" % (ns, N * SECONDS))
ok(link["replay_dropped_meters"] == 0, "replay_buffer_never_overflowed", link)
ok(link["acked_rounds"] >= SECONDS and
   link["max_ack_lag_ms"] <= LAG_BOUND_MS,
   "ack_lag_bounded_%d_ms" % LAG_BOUND_MS,
   "max lag %.1f ms over %d rounds" % (link["max_ack_lag_ms"],
                                       link["acked_rounds"]))
st = dict(b.sql("SELECT name, value FROM stats"))
ok(st["link_rejects"] == 0 and st["link_gaps"] == 0 and
   st["link_connects"] == 1, "no_reject_no_gap_no_resync_on_a_clean_link",
   st)
diffs = compare(b.totals(dump["boot_id"]), dump)
ok(not diffs, "totals_equal_peer_counters_at_scale", "\n".join(diffs[:10]))
print("# max ACK lag %.1f ms, replay high water %d bytes" %
      (link["max_ack_lag_ms"], link["replay_high_water"]))
done()
