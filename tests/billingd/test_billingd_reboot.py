#!/usr/bin/env python3
"""The hypervisor restarts (a new boot id) and the desired state follows it:
the old boot's usage is kept, the new boot's series starts from zero, the
shares set with `billingd --set` are applied to both boots, including one
set while the link was down, and read back from the hypervisor with hvctl.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Billingd, Peer, compare, done, hvctl, ok, s64, tail,
                     wait_until, workdir)

d = workdir()
sock = os.path.join(d, "link.sock")
b = Billingd(d, sock)
b.start()  # no hypervisor yet: billingd retries with backoff

# set while the link is down (it has never been up)
r = b.cmd("--set", "dom-00002", "cpu_weight=777", "io_iops=500",
          "memory_max_mb=4096")
ok(r.returncode == 0, "set_desired_while_link_down", r.stderr)
r = b.cmd("--set", "dom-00002", "cpu_weight=0")
ok(r.returncode == 2 and "out of range" in r.stderr,
   "set_desired_refuses_out_of_range_values", r.stderr)


def applied(name, boot):
    return b.sql("SELECT count(*) FROM desired s JOIN domains m ON "
                 "m.id=s.domain WHERE m.name=? AND applied_boot=? AND "
                 "applied_generation=generation AND last_status=0",
                 name, s64(boot))[0][0] == 1


A, B = 1111, 2222
pa = Peer(d, sock, domains=10, speed=10, run_ms=3000, boot_id=A, name="peerA")
pa.start()
ok(wait_until(lambda: applied("dom-00002", A), 15),
   "desired_state_pushed_when_link_comes_up", tail(b.log))
ok(wait_until(lambda: b.has_sample(A, pa.final_ns, 10), 20),
   "boot_a_final_round_stored", tail(b.log))
# set while the link is up: pushed live
r = b.cmd("--set", "dom-00005", "cpu_cap_pct=40")
ok(r.returncode == 0 and wait_until(lambda: applied("dom-00005", A), 15),
   "desired_state_pushed_live", tail(b.log))
dump_a = pa.stop()
w = {x["name"]: x for x in dump_a["domains"]}
ok(w["dom-00002"]["cpu_weight"] == 777 and w["dom-00002"]["io_iops"] == 500
   and w["dom-00002"]["memory_max_mb"] == 4096 and
   w["dom-00005"]["cpu_cap_pct"] == 40, "boot_a_runs_with_desired_shares",
   {k: w[k] for k in ("dom-00002", "dom-00005")})

# the hypervisor is down: another change, then a new boot
r = b.cmd("--set", "dom-00003", "cpu_weight=333")
ok(r.returncode == 0, "set_desired_between_boots", r.stderr)
pb = Peer(d, sock, domains=10, speed=10, run_ms=2000, boot_id=B, name="peerB")
pb.start()
ok(wait_until(lambda: b.has_sample(B, pb.final_ns, 10) and
              applied("dom-00002", B) and applied("dom-00003", B) and
              applied("dom-00005", B), 20),
   "boot_b_ingested_and_desired_state_reapplied", tail(b.log))
b.stop()

# read back from the hypervisor itself, with billingd gone
r = hvctl(sock, "--json", "list")
got = {x["name"]: x for x in json.loads(r.stdout)["domains"]} if r.returncode == 0 else {}
ok(got.get("dom-00002", {}).get("cpu_weight") == 777 and
   got["dom-00002"]["io_iops"] == 500 and
   got["dom-00003"]["cpu_weight"] == 333 and
   got["dom-00005"]["cpu_cap_pct"] == 40 and
   got["dom-00001"]["cpu_weight"] == 128,
   "hvctl_reads_back_reapplied_shares_from_new_boot", r.stdout + r.stderr)
dump_b = pb.stop()

ok(not compare(b.totals(A), dump_a), "old_boot_usage_kept_exactly",
   compare(b.totals(A), dump_a)[:10])
ok(not compare(b.totals(B), dump_b), "new_boot_usage_exact_from_zero",
   compare(b.totals(B), dump_b)[:10])
first = b.sql("SELECT count(*) FROM usage_delta u JOIN boots bt ON "
              "bt.id=u.boot WHERE bt.boot_id=? AND u.start_ns=0 AND "
              "(u.flags & (1<<30)) != 0", s64(B))[0][0]
ok(first == 10, "new_boot_starts_new_series", first)
both = b.sql("SELECT count(DISTINCT boot) FROM boot_domains bd JOIN domains m"
             " ON m.id=bd.domain WHERE m.name='dom-00002'")[0][0]
ok(both == 2, "domain_identity_by_name_across_boots", both)
done()
