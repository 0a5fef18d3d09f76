#!/usr/bin/env python3
"""The whole system, end to end: the real hypervisor in QEMU (-icount),
billingd on its link, the REST API on a real socket. Changing a domain's
cpu_weight through the API changes its measured CPU share within two
metering intervals; changing io_bps changes its I/O rate likewise; pausing
through the API stops a domain; a quota with `suspend` pauses its domain
within one metering interval of the crossing and one with `throttle` puts
its reduced shares measurably in force; the stored usage equals the
hypervisor's own counters, and this month's invoice lines are those
counters priced by the plan."""
import calendar
import json
import os
import re
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "billingd"))
import harness  # noqa: E402
import hvtest  # noqa: E402
from harness import ok  # noqa: E402

INTERVAL_MS = 100
CONF = """
[hypervisor]
meter_interval_ms = %d
[domain a]
image = cpuhog
cpu_weight = 256
[domain b]
image = cpuhog
cpu_weight = 256
[domain db]
image = iohog
disk_mb = 8
io_bps = 1048576
args = req_kb=4 qd=8 mix=50
[domain idle]
image = cpuhog
cpu_weight = 256
""" % INTERVAL_MS
RUN_MS = 11000
MS = 10**6


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


d = harness.workdir()
sock = os.path.join(d, "link.sock")
port = free_port()
bd = harness.Billingd(d, sock, api_port=port)
r = bd.cmd("--create-key", "--role", "admin")
m = re.findall(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", r.stdout)
ok(r.returncode == 0 and m, "an admin key is created", r.stdout + r.stderr)
KEY = m[-1] if m else ""
BASE = "http://127.0.0.1:%d/v1" % port


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + KEY)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as f:
            return f.status, json.loads(f.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


p, finish = hvtest.start(CONF, RUN_MS, sock, log=os.path.join(d, "hv.log"))
ok(harness.wait_until(lambda: os.path.exists(sock), 120),
   "QEMU made the link socket")
bd.start()


stored_mono = bd.newest_sample_ns


def deltas(name, since_ns, field):
    """(start, end, value) of the domain's deltas starting at or after
    since_ns, from SQLite."""
    return bd.sql(
        "SELECT u.start_ns, u.end_ns, u.%s FROM usage_delta u JOIN "
        "boot_domains bd ON bd.boot = u.boot AND bd.domid = u.domid JOIN "
        "domains n ON n.id = bd.domain WHERE n.name = ? AND u.start_ns >= ? "
        "ORDER BY u.start_ns" % field, name, since_ns)


ok(harness.wait_until(lambda: stored_mono() >= 1500 * MS, 300, 0.005),
   "billingd ingests the hypervisor's METERs", harness.tail(bd.log))

st, body = api("PATCH", "/domains/a/shares", {"cpu_weight": 768})
t_w = stored_mono()
ok(st == 200 and isinstance(body, dict) and body.get("applied") is True,
   "PATCH cpu_weight=768 is applied by the running hypervisor", (st, body))
st, body = api("PATCH", "/domains/db/shares", {"io_bps": 4194304})
t_io = stored_mono()
ok(st == 200 and isinstance(body, dict) and body.get("applied") is True,
   "PATCH io_bps=4 MiB/s is applied", (st, body))
ok(harness.wait_until(lambda: stored_mono() >= t_io + 6 * INTERVAL_MS * MS,
                      300, 0.005), "the run goes on after the changes")
st, body = api("POST", "/domains/idle/pause")
t_p = stored_mono()
ok(st in (200, 202) and harness.wait_until(
    lambda: stored_mono() >= t_p + 4 * INTERVAL_MS * MS, 300, 0.005),
   "POST pause is accepted", (st, body))

# Quotas: b may use one more CPU-second this month, then it is suspended;
# a is over its limit already and is throttled to a 10% cap.
b_cpu = bd.sql("SELECT bd.cpu_ns FROM boot_domains bd JOIN domains n ON "
               "n.id = bd.domain WHERE n.name = 'b'")[0][0]
b_limit = b_cpu // 10**9 + 1
st, body = api("PUT", "/domains/b/quota", {"limits": {"cpu_seconds": {
    "limit": b_limit, "action": "suspend"}}})
ok(st == 200, "PUT a suspend quota on b (%d CPU-seconds)" % b_limit,
   (st, body))
st, body = api("PUT", "/domains/a/quota", {"limits": {"cpu_seconds": {
    "limit": 1, "action": "throttle", "throttle": {"cpu_cap_pct": 10}}}})
t_q = stored_mono()
ok(st == 200, "PUT a throttle quota on a (cap 10%)", (st, body))
ok(harness.wait_until(lambda: api("GET", "/domains/b")[1].get("state") ==
                      "paused", 120, 0.01),
   "b is paused by its quota", api("GET", "/domains/b/quota"))
st, q = api("GET", "/domains/b/quota")
ok(st == 200 and "cpu_seconds" in q.get("in_force", []),
   "b's quota says the limit is in force", q)

res, err = finish()
ok(res is not None, "the hypervisor's run ends normally", err)
harness.wait_until(lambda: stored_mono() >= RUN_MS * MS - INTERVAL_MS * MS,
                   30)


def share(since, n=3):
    """a's share of a+b over the n intervals starting at since."""
    a = deltas("a", since, "cpu_ns")[:n]
    b = deltas("b", since, "cpu_ns")[:n]
    return [x[2] / (x[2] + y[2]) for x, y in zip(a, b)], a[:1]


before, _ = share(500 * MS, 5)
# Per interval within 3%: a 100 ms interval holds a handful of slices, and
# the context-switch allowance lets one domain run a slice ahead at its
# edge; over the five together within 1%.
ta = sum(x[2] for x in deltas("a", 500 * MS, "cpu_ns")[:5])
tb = sum(x[2] for x in deltas("b", 500 * MS, "cpu_ns")[:5])
ok(before and all(abs(s - 0.5) < 0.03 for s in before) and
   abs(ta / (ta + tb) - 0.5) < 0.01,
   "before the change a and b share the CPU 50/50", (before, ta, tb))
# t_w is the newest METER stored when the API answered: the one before
# the change took effect, or (if the main loop stored the next before the
# answer went out) the one after. Either way the interval starting one
# metering interval after t_w is the first or second wholly after the
# change, and must show the new share.
after, first = share(t_w + INTERVAL_MS * MS)
ok(after and all(abs(s - 0.75) < 0.02 for s in after),
   "within two metering intervals a gets 768/(768+256) = 75%%: %s from "
   "%s ms" % (["%.4f" % s for s in after],
              first and first[0][0] // MS), after)


def rate(since, n=3):
    rows = deltas("db", since, "blk_read_bytes + u.blk_write_bytes")[:n]
    return [v * 10**9 / (e - s) for s, e, v in rows]


before = rate(500 * MS, 5)
ok(before and all(abs(r / 1048576 - 1) < 0.05 for r in before),
   "before, db moves 1 MiB/s", before)
after = rate(t_io + INTERVAL_MS * MS)
ok(after and all(abs(r / 4194304 - 1) < 0.05 for r in after),
   "within two metering intervals db moves 4 MiB/s: %s" %
   ["%.0f KiB/s" % (r / 1024) for r in after], after)
paused = deltas("idle", t_p + INTERVAL_MS * MS, "cpu_ns")
ok(paused and all(v == 0 for s, e, v in paused[:3]),
   "a domain paused through the API gets no CPU", paused[:3])

# b: the first METER at or over the limit is the crossing; the interval
# after it must already be idle (the pause came within one interval).
cum = bd.sql("SELECT s.mono_ns, s.cpu_ns FROM samples s JOIN boot_domains "
             "bd ON bd.boot = s.boot AND bd.domid = s.domid JOIN domains n "
             "ON n.id = bd.domain WHERE n.name = 'b' ORDER BY s.mono_ns")
cross = [m_ for m_, c in cum if c >= b_limit * 10**9]
after = deltas("b", cross[0] + INTERVAL_MS * MS, "cpu_ns") if cross else []
ok(cross and after and all(v == 0 for s, e, v in after),
   "b gets no CPU from one metering interval after crossing its quota "
   "(crossed at %s ms)" % (cross and cross[0] // MS),
   (cross[:1], deltas("b", cross[0], "cpu_ns")[:3] if cross else cum[-3:]))
capped = [v * 1.0 / (e - s) for s, e, v in
          deltas("a", t_q + 2 * INTERVAL_MS * MS, "cpu_ns")[:5]]
ok(capped and all(abs(c - 0.10) < 0.01 for c in capped),
   "the throttle's 10%% cap is measurably in force on a: %s" %
   ["%.3f" % c for c in capped], capped)



def invoice_matches_counters(res):
    """This month's invoice (one boot, all in this month): each metered
    line's quantity is the hypervisor's counter, each amount what this
    test computes from the quantity and the plan it read back."""
    bd.start()
    if not harness.wait_until(lambda: api("GET", "/health")[0] == 200, 30):
        ok(False, "billingd's API comes back", harness.tail(bd.log))
        return
    st, plans = api("GET", "/plans")
    ok(st == 200 and "plans" in plans, "GET /plans", (st, plans))
    if st != 200:
        return
    # No free allowance and steep prices, so every line has an amount.
    for pl in plans["plans"]:
        pl["included"] = {k: 0 for k in pl["included"]}
        pl["prices_micro"] = {k: 3600 * 10**6 + 7 for k in pl["prices_micro"]}
    st, body = api("PUT", "/plans", plans)
    ok(st == 200, "PUT /plans", (st, body))
    st, plans = api("GET", "/plans")
    plan = {p_["name"]: p_ for p_ in plans["plans"]}["default"]
    month = time.strftime("%Y-%m", time.gmtime())
    st, inv = api("GET", "/invoices?month=" + month)
    ok(st == 200 and inv.get("status") == "preview",
       "GET /invoices for this month is a preview", (st, inv))
    if st != 200:
        return
    lines = {(ln["domain"], ln["meter"]): ln
             for c in inv["customers"] for ln in c["lines"]}
    days = calendar.monthrange(*time.gmtime()[:2])[1]
    units = {"cpu": ("cpu_hour", 3600 * 10**9),
             "memory": ("memory_gib_month", (1 << 18) * days * 86400 * 10**9),
             "disk_read": ("read_gib", 1 << 30),
             "disk_write": ("write_gib", 1 << 30),
             "io_ops": ("io_mops", 10**6)}
    qty = {"cpu": lambda x: x["cpu_ns"],
           "memory": lambda x: x["mem_page_ns"],
           "disk_read": lambda x: x["blk_read_bytes"],
           "disk_write": lambda x: x["blk_write_bytes"],
           "io_ops": lambda x: x["blk_read_ops"] + x["blk_write_ops"]}
    bad = []
    for x in res["domains"]:
        for meter, (price_key, unit) in units.items():
            ln = lines.get((x["name"], meter))
            q = qty[meter](x)
            if ln is None:
                bad.append((x["name"], meter, "no line"))
                continue
            n = q * plan["prices_micro"][price_key]
            want = n // unit + (2 * (n % unit) >= unit)
            if int(ln["quantity"]) != q or ln["amount_micro"] != want:
                bad.append((x["name"], meter, ln["quantity"], q,
                            ln["amount_micro"], want))
    ok(not bad and lines, "every invoice line's quantity is the hypervisor's "
       "counter and its amount is quantity x price, rounded half up once",
       bad)
    totals = [(c["total_micro"], sum(ln["amount_micro"] for ln in c["lines"]))
              for c in inv["customers"]]
    ok(totals and all(t == s_ for t, s_ in totals),
       "each customer's total is the sum of its lines", totals)
    bd.stop()


if res:
    bd.stop()
    boot = bd.sql("SELECT boot_id FROM boots")[0][0] % harness.U64
    stored = bd.totals(boot)
    bad = [(x["name"], f) for x in res["domains"]
           for f in ("cpu_ns", "blk_read_bytes", "blk_write_bytes")
           if stored.get(x["name"], {}).get(f) != x[f]]
    ok(not bad, "stored totals equal the hypervisor's counters", bad)
    a = [x for x in res["domains"] if x["name"] == "a"][0]
    ok(a["cpu_weight"] == 768, "the hypervisor's report has the new weight",
       a["cpu_weight"])
    invoice_matches_counters(res)
harness.done()
