#!/usr/bin/env python3
"""The operator's tools on the management link: hvctl commands against a
hypervisor (hvsim --serve-link) do what they say, invalid parameters are
refused with the hypervisor's FS_E* reason and change nothing, and
billingd's configuration errors name file, line and reason (exit 2).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, Peer, done, hvctl, ok, workdir

d = workdir()
sock = os.path.join(d, "link.sock")
peer = Peer(d, sock, domains=10, speed=1, run_ms=0)
peer.start()


def doms():
    r = hvctl(sock, "--json", "list")
    return {x["name"]: x for x in json.loads(r.stdout)["domains"]}


before = doms()
ok(len(before) == 10 and before["dom-00010"]["io_iops"] == 20,
   "list_shows_every_domain_with_settings", before.get("dom-00010"))

r = hvctl(sock, "set", "dom-00001", "cpu_weight=900", "cpu_cap_pct=30",
          "memory_max_mb=1024")
after = doms()
ok(r.returncode == 0 and after["dom-00001"]["cpu_weight"] == 900 and
   after["dom-00001"]["cpu_cap_pct"] == 30 and
   after["dom-00001"]["memory_max_mb"] == 1024, "set_changes_shares_live",
   r.stderr)


def refused(args, reason, name):
    snap = doms()
    r = hvctl(sock, *args)
    ok(r.returncode != 0 and reason in r.stderr and doms() == snap, name,
       "rc %d: %s" % (r.returncode, r.stderr))


refused(["set", "dom-00001", "cpu_weight=0"], "out of range",
        "weight_out_of_range_refused_before_sending")
refused(["set", "dom-00001", "bogus=1"], "unknown key",
        "unknown_key_refused")
refused(["set", "dom-00010", "io_burst_ops=10", "io_iops=0"], "FS_EINVAL",
        "io_burst_without_rate_refused_by_hypervisor")
refused(["set", "dom-00004", "memory_max_mb=100"], "FS_ERANGE",
        "memory_max_below_current_memory_refused")
# shares and I/O are sent (and accepted) before the memory group is
# refused: they are put back, so a refused set changes nothing
refused(["set", "dom-00004", "cpu_weight=777", "io_bps=5000000",
         "memory_max_mb=100"], "FS_ERANGE",
        "set_refused_in_its_last_group_restores_the_earlier_groups")
refused(["set", "nosuch", "cpu_weight=5"], "no domain named",
        "unknown_domain_refused")
refused(["create", "gpu", "x1"], "FS_ENOENT", "create_unknown_image_refused")
refused(["create", "cpu", "dom-00002"], "FS_EEXIST",
        "create_duplicate_name_refused")
refused(["create", "periodic", "x2", "args=period_us=10"], "FS_EINVAL",
        "create_with_bad_args_refused")
refused(["create", "cpu", "x3", "memory_mb=70000"], "out of range",
        "create_memory_out_of_range_refused")

r1 = hvctl(sock, "pause", "dom-00002")
r2 = hvctl(sock, "pause", "dom-00002")
ok(r1.returncode == 0 and r2.returncode == 1 and "FS_EBUSY" in r2.stderr and
   doms()["dom-00002"]["state"] == "paused", "pause_twice_is_busy",
   r1.stderr + r2.stderr)
r = hvctl(sock, "unpause", "dom-00002")
ok(r.returncode == 0 and doms()["dom-00002"]["state"] == "running",
   "unpause_runs_again", r.stderr)
r = hvctl(sock, "create", "io", "db1", "args=req_bytes=4096 queue_depth=8",
          "io_iops=300", "memory_mb=512", "mem_growth_pages_per_s=100")
x = doms().get("db1", {})
ok(r.returncode == 0 and x.get("io_iops") == 300 and
   x.get("memory_mb") == 512 and x.get("mem_growth_pages_per_s") == 100,
   "create_io_domain_with_limits", r.stderr + str(x))
r = hvctl(sock, "destroy", "dom-00009")
ok(r.returncode == 0 and "dom-00009" not in doms(), "destroy_removes_domain",
   r.stderr)
u = hvctl(sock, "--json", "usage", "dom-00001")
j = json.loads(u.stdout) if u.returncode == 0 else {}
ok(len(j.get("domains", [])) == 1 and "mem_page_ns" in j["domains"][0] and
   j["domains"][0]["mem_pages"] == 64 * 256, "usage_of_one_domain_has_every_counter",
   u.stdout + u.stderr)
t = hvctl(sock, "usage")
ok(t.returncode == 0 and t.stdout.count("\n") == 11, "usage_table_all_domains",
   t.stdout)
r = hvctl(sock, "shutdown")
try:
    rc = peer.p.wait(10)
except subprocess.TimeoutExpired:
    rc = None
ok(r.returncode == 0 and rc == 0, "shutdown_stops_the_hypervisor",
   "%s %s" % (r.stderr, rc))
r = hvctl(sock, "list")
ok(r.returncode == 1 and "connect" in r.stderr, "no_hypervisor_is_an_error",
   r.stderr)
r = hvctl(sock, "frobnicate")
ok(r.returncode == 2, "unknown_command_exit_2")

# billingd configuration errors: FILE:LINE: reason, exit 2
def conf_error(text, line, reason, name):
    p = os.path.join(d, name + ".conf")
    with open(p, "w") as f:
        f.write(text)
    r = subprocess.run([os.path.join(BIN, "billingd"), "--config", p],
                       capture_output=True, text=True, cwd=ROOT, timeout=10)
    ok(r.returncode == 2 and ("%s:%d: " % (p, line)) in r.stderr and
       reason in r.stderr, name, "rc %d: %s" % (r.returncode, r.stderr))


conf_error("link_socket = /x\n# c\nlink_sokcet = /y\n", 3, "unknown key",
           "config_unknown_key")
conf_error("link_socket = /x\nreconnect_max_ms = 10s\n", 2,
           "must be an integer", "config_bad_number")
conf_error("database = /tmp/x.db\n", 1, "link_socket is required",
           "config_missing_socket")
conf_error("link_socket = /x\nlink_socket = /y\n", 2, "given twice",
           "config_key_twice")
conf_error("link_socket = /x\nlog_level = loud\n", 2, "log_level must be",
           "config_bad_log_level")
r = subprocess.run([os.path.join(BIN, "hvsim"), "--serve-link", sock,
                    "--speed", "x"], capture_output=True, text=True,
                   timeout=10)
ok(r.returncode == 2 and "--speed" in r.stderr, "hvsim_bad_option_exit_2",
   r.stderr)
done()
