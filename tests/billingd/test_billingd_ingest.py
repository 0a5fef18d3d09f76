#!/usr/bin/env python3
"""What an operator and a billing department notice about ingest: after a
run, the usage billingd stored per domain equals the hypervisor's own
counters exactly (destroyed, created and paused domains included), every
sample is stored once, the database is WAL with STRICT tables and a schema
version, and a clean stop (SIGTERM) exits 0 with the link statistics logged.
"""
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ROOT, Billingd, Peer, compare, done, hvctl, ok, tail,
                     wait_until, workdir)

d = workdir()
sock = os.path.join(d, "link.sock")
peer = Peer(d, sock, domains=30, speed=10, run_ms=8000)
peer.start()

# Before billingd connects: the operator changes things with hvctl, so the
# records billingd receives include a destroy, a create and a pause.
r1 = hvctl(sock, "destroy", "dom-00003")
r2 = hvctl(sock, "create", "periodic", "late-web",
           "args=period_us=10000 burst_us=2000", "memory_mb=32",
           "cpu_weight=512")
r3 = hvctl(sock, "pause", "dom-00004")
ok(all(r.returncode == 0 for r in (r1, r2, r3)),
   "hvctl_destroy_create_pause_accepted",
   "\n".join(r.stderr for r in (r1, r2, r3)))

b = Billingd(d, sock)
b.start()
# 30 domains live at the end (one destroyed, one created)
done_ingest = wait_until(
    lambda: b.final_stored(peer.final_ns, 30), 30)
ok(done_ingest, "final_meter_round_stored", tail(b.log))
rc = b.stop()
ok(rc == 0, "sigterm_stops_cleanly_with_status_0", "rc=%s\n%s" % (rc, tail(b.log)))
log = open(b.log).read()
ok("stopped: " in log and "rejects: none" in log,
   "link_statistics_logged_at_stop", tail(b.log))

dump = peer.stop()
stored = b.totals(dump["boot_id"])
diffs = compare(stored, dump)
ok(not diffs, "stored_usage_equals_peer_counters_exactly",
   "\n".join(diffs[:20]))

st = dict(b.sql("SELECT name, value FROM stats"))
ok(st["link_rejects"] == 0 and st["link_gaps"] == 0 and
   st["link_connects"] == 1, "clean_link_one_connection_no_gap", st)

names = {x["name"]: x for x in dump["domains"]}
ok(not names["dom-00003"]["active"] and "dom-00003" in stored and
   stored["dom-00003"]["cpu_ns"] == names["dom-00003"]["usage"]["cpu_ns"],
   "destroyed_domain_billed_to_its_end")
ok("late-web" in stored and stored["late-web"]["cpu_ns"] > 0,
   "created_domain_stored_by_name")

# every sample the peer sent is stored exactly once, and has one delta
per = dict(b.sql("SELECT d.name, count(*) FROM samples s JOIN boot_domains bd"
                 " ON bd.boot=s.boot AND bd.domid=s.domid JOIN domains d ON"
                 " d.id=bd.domain GROUP BY d.name"))
bad = [(n, per.get(n), x["samples"]) for n, x in names.items()
       if per.get(n) != x["samples"]]
ok(not bad, "one_stored_sample_per_sample_sent", bad[:10])
nd = b.sql("SELECT count(*) FROM usage_delta")[0][0]
ns = b.sql("SELECT count(*) FROM samples")[0][0]
ok(nd == ns, "one_delta_per_sample", "deltas %d samples %d" % (nd, ns))
neg = b.sql("SELECT count(*) FROM usage_delta WHERE cpu_ns<0 OR ready_ns<0 "
            "OR dispatches<0")[0][0]
ok(neg == 0, "no_negative_delta")

ev = dict(b.sql("SELECT kind, count(*) FROM events GROUP BY kind"))
ok(ev.get(1, 0) == 31 and ev.get(3) == 1 and ev.get(6) == 1,
   "events_stored_created_destroyed_paused", ev)

mode = b.sql("PRAGMA journal_mode")[0][0]
ver = b.sql("PRAGMA user_version")[0][0]
strict = b.sql("SELECT count(*) FROM sqlite_schema WHERE type='table' AND "
               "sql LIKE '%STRICT%'")[0][0]
tables = b.sql("SELECT count(*) FROM sqlite_schema WHERE type='table'")[0][0]
# The newest migration in billingd/schema.h ("/* N: ..." comments).
with open(os.path.join(ROOT, "billingd", "schema.h")) as f:
    newest = max(int(n) for n in re.findall(r"/\* (\d+):", f.read()))
ok(mode == "wal" and ver == newest and strict == tables,
   "database_is_wal_strict_and_versioned",
   "mode %s version %s strict %d/%d" % (mode, ver, strict, tables))

# restarting on the same database migrates nothing and loses nothing
b2 = Billingd(d, sock)
b2.start()
wait_until(lambda: "link" in open(b2.log).read(), 5)
b2.stop()
ok(b.totals(dump["boot_id"]) == stored, "restart_keeps_stored_usage")

# online backup while nothing runs: an identical copy
bk = os.path.join(d, "backup.db")
r = b.cmd("--backup", bk)
c = sqlite3.connect(bk)
n_bk = c.execute("SELECT count(*) FROM samples").fetchone()[0]
c.close()
ok(r.returncode == 0 and n_bk == ns, "backup_copies_every_sample",
   r.stderr + " %d vs %d" % (n_bk, ns))
done()
