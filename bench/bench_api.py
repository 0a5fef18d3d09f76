#!/usr/bin/env python3
"""REST API benchmark: requests/s and latency percentiles for
GET /v1/domains/{name} and PATCH /v1/domains/{name}/shares, measured with
wrk on loopback while billingd ingests from hvsim with 2000 domains.

    bench/bench_api.py OUT.json

Setup: hvsim --serve-link, 2000 domains, --speed 5 (five 1 s METER rounds
per wall second: 10,000 domain-samples/s into SQLite, synchronous=FULL);
billingd with the shipped API settings (4 pool threads). wrk: 2 threads,
32 connections, 10 s per endpoint. GET reads one domain (desired state,
the newest METER's counters via the boot_domains index, the quota from
billing.c's quota_get()); GET .../shares the same without the quota, to
separate the API layer's cost from the billing library's. PATCH
changes cpu_weight of 64 domains round-robin; each request stores the
desired state (an IMMEDIATE transaction that waits for the ingest batch in
progress), then waits (suspended, not blocking a pool thread) for the
hypervisor's RESP: its latency is a full round trip through the main loop
and the link. The samples ingested during each run are reported too, to
show the API did not starve ingest. Numbers are reported, never judged.
"""
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "api"))
from apilib import Api, Billingd, Peer, free_port, wait_until, workdir  # noqa

DOMAINS = 2000
SECONDS = 10
CONNS = 32

PATCH_LUA = r"""
-- Each wrk thread has its own Lua state: count there, sum in done().
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
n, ok200, applied = 0, 0, 0
request = function()
  n = n + 1
  local dom = string.format("dom-%05d", (n % 64) + 1)
  local body = string.format('{"cpu_weight": %d}', 100 + (n % 900))
  return wrk.format("PATCH", "/v1/domains/" .. dom .. "/shares",
                    wrk.headers, body)
end
response = function(status, headers, body)
  if status == 200 then ok200 = ok200 + 1 end
  if string.find(body, '"applied":true', 1, true) then
    applied = applied + 1
  end
end
done = function(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("applied")
    o = o + t:get("ok200")
  end
  io.write(string.format("code 200 %d\ncode applied %d\n", o, a))
end
"""

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def to_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s)$", s)
    return float(m.group(1)) * UNIT[m.group(2)]


def wrk(url, key, script=None):
    args = ["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % SECONDS, "--latency",
            "-H", "Authorization: Bearer " + key,
            "-H", "Content-Type: application/json"]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True,
                         check=True).stdout
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for p in ("50", "90", "99"):
        r["p%s_ms" % p] = to_ms(re.search(r"\s%s%%\s+(\S+)" % p, out)
                                .group(1))
    r["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    codes = dict(re.findall(r"code (\S+) (\d+)", out))
    if codes:
        r["codes"] = {k: int(v) for k, v in codes.items()}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    return r, out


def samples(b):
    return b.sql("SELECT value FROM stats WHERE name='samples_new'")[0][0]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench/api.json"
    d = workdir()
    sock = os.path.join(d, "link.sock")
    port = free_port()
    peer = Peer(d, sock, domains=DOMAINS, speed=5, run_ms=3600 * 1000,
                extra=["--quiet"])
    peer.start()
    b = Billingd(d, sock, log_level="warn", api_port=port)
    b.start()
    api = Api(port)
    if not wait_until(lambda: api.alive() and api.req("GET", "/v1/health")
                      .json()["link"]["domains"] >= DOMAINS, 60):
        raise SystemExit("bench_api: billingd did not come up")
    key = b.cmd("--create-key", "--role", "admin").stdout.strip()
    wait_until(lambda: samples(b) > DOMAINS * 2, 60)
    base = "http://127.0.0.1:%d" % port
    res = {"domains": DOMAINS, "hvsim_speed": 5, "seconds": SECONDS,
           "connections": CONNS, "api_threads": 4}
    s0 = samples(b)
    t0 = time.monotonic()
    res["get_domain"], _ = wrk(base + "/v1/domains/dom-00042", key)
    res["get_domain"]["ingest_samples_per_s"] = \
        (samples(b) - s0) / (time.monotonic() - t0)
    # The same without quota_get (billing.c): the API layer's own cost.
    res["get_shares"], _ = wrk(base + "/v1/domains/dom-00042/shares", key)
    lua = os.path.join(d, "patch.lua")
    with open(lua, "w") as f:
        f.write(PATCH_LUA)
    s0 = samples(b)
    t0 = time.monotonic()
    res["patch_shares"], _ = wrk(base, key, lua)
    res["patch_shares"]["ingest_samples_per_s"] = \
        (samples(b) - s0) / (time.monotonic() - t0)
    b.stop()
    peer.stop()
    print("%-14s %10s %9s %9s %9s %12s" % ("endpoint", "req/s", "p50 ms",
                                            "p90 ms", "p99 ms",
                                            "ingest/s"))
    for k in ("get_domain", "get_shares", "patch_shares"):
        r = res[k]
        print("%-14s %10.0f %9.2f %9.2f %9.2f %12s" %
              (k, r["rps"], r["p50_ms"], r["p90_ms"], r["p99_ms"],
               "%.0f" % r["ingest_samples_per_s"]
               if "ingest_samples_per_s" in r else "-"))
    if "codes" in res["patch_shares"]:
        print("PATCH answers: %s" % res["patch_shares"]["codes"])
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
