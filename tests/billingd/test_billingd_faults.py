#!/usr/bin/env python3
"""Bytes flipped, dropped and inserted on the link (a fault-injecting proxy,
tools/link/faultproxy.py, between billingd and the hypervisor): bad frames
are rejected and counted by reason, the link resynchronises, and the stored
totals still equal the hypervisor's counters exactly. Damage in the other
direction (ACKs, HELLOs) is rejected and counted by the hypervisor.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAULTPROXY, Billingd, Peer, compare, done, ok, spawn,
                     stop, tail, wait_until, workdir)

d = workdir()
up = os.path.join(d, "hv.sock")
mid = os.path.join(d, "proxy.sock")
peer = Peer(d, up, domains=40, speed=20, run_ms=60000)
peer.start()
stats = os.path.join(d, "proxy.json")
proxy = spawn([sys.executable, FAULTPROXY, "--listen", mid, "--upstream", up,
               "--seed", os.environ.get("SEED", "7"), "--flip", "0.00002",
               "--drop", "0.00002", "--insert", "0.00002",
               "--direction", "both", "--stats", stats],
              os.path.join(d, "proxy.log"))
wait_until(lambda: os.path.exists(mid), 10)
b = Billingd(d, mid, resync_delay_ms=50, idle_timeout_ms=300,
             hello_timeout_ms=200)
b.start()
final = wait_until(lambda: b.final_stored(peer.final_ns, 40), 90)
ok(final, "final_round_arrives_through_faults", tail(b.log))


def all_acked():
    st = dict(b.sql("SELECT name, value FROM stats"))
    return st.get("acked_seq", 0) == st.get("max_record_seq", -1)


# the clock has stopped: the ACK point catches up with the last record
ok(wait_until(all_acked, 90, step=0.1), "ack_point_catches_up",
   dict(b.sql("SELECT name, value FROM stats")))
# the peer stops first: it waits (2 s at most) for billingd to acknowledge
# everything, through the proxy
dump = peer.stop()
b.stop()
stop(proxy)
faults = json.load(open(stats))
injected = faults["flipped"] + faults["dropped"] + faults["inserted"]
ok(injected >= 10, "proxy_injected_faults", faults)

st = dict(b.sql("SELECT name, value FROM stats"))
rej = {k[7:]: v for k, v in st.items() if k.startswith("reject_") and v}
ok(st.get("link_rejects", 0) > 0 and sum(rej.values()) == st["link_rejects"],
   "billingd_counts_rejects_by_reason", st)
ok("rejects: " in open(b.log).read() and "rejects: none" not in
   open(b.log).read().splitlines()[-1], "billingd_logs_reject_counts",
   tail(b.log, 3))
ok(st.get("link_losses", 0) > 0 and dump["link"]["replay_records"] == 0,
   "link_resynchronised_and_every_record_acknowledged",
   "%s\npeer: %s" % (st, dump["link"]))
hv_rej = sum(dump["link"]["rejects"].values())
ok(faults["faults_up"] == 0 or hv_rej > 0,
   "hypervisor_counts_rejects_of_damaged_acks",
   "%d faults upstream, hypervisor rejects %s" % (faults["faults_up"],
                                                  dump["link"]["rejects"]))

diffs = compare(b.totals(dump["boot_id"]), dump)
ok(not diffs, "totals_equal_peer_counters_despite_faults",
   "\n".join(diffs[:20]))
dup = b.sql("SELECT count(*) FROM (SELECT 1 FROM samples GROUP BY boot, "
            "domid, mono_ns HAVING count(*) > 1)")[0][0]
neg = b.sql("SELECT count(*) FROM usage_delta WHERE cpu_ns < 0 OR "
            "ready_ns < 0")[0][0]
ok(dup == 0 and neg == 0, "no_duplicate_sample_no_negative_delta")
print("# faults %s; billingd rejects %s; %d connects" %
      (faults, rej, st.get("link_connects", 0)))
done()
