#!/usr/bin/env python3
"""Invoice and quota-evaluation benchmark (docs/billing.md section 9).

    bench/bench_invoice.py OUT.json [DOMAINS]

Builds and runs build/bench/bin/billing/bench_invoice (source:
tests/billing/bench_invoice.c): DOMAINS (default 1000) domains with a month
of 1-minute metering in a real billingd SQLite store (the month's hourly
rollups written as store_rollup() would, plus a real METER past the month's
end through store_meter() and store_rollup(), so the month is complete),
then times the monthly invoice: the first request (compute, freeze, render
JSON for every customer; goal < 1 s), a stored document, CSV and one
customer from the frozen lines. Then 2000 domains with quotas at 1 s
metering: the cost of quota_evaluate() after each METER batch. Then the
quota read path on a month of history (2000 domains, this month's hourly
rollups so far, a minute of 1 s METER batches not rolled up yet):
quota_get() without and with a quota, quota_evaluate() with no quota in
the database and with one, quota_put().
"""
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = "build/bench/bin/billing/bench_invoice"


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench_invoice.py OUT.json [DOMAINS]")
    out = sys.argv[1]
    doms = sys.argv[2] if len(sys.argv) > 2 else "1000"
    subprocess.run(["make", "-s", BIN], cwd=ROOT, check=True)
    r = subprocess.run([os.path.join(ROOT, BIN), doms], cwd=ROOT,
                       check=True, capture_output=True, text=True)
    res = json.loads(r.stdout)
    inv, q = res["invoice"], res["quota"]
    res["goal_first_request_s"] = 1.0
    res["goal_met"] = inv["first_request_s"] < 1.0
    print(f"invoice, {inv['domains']} domains x 720 hourly rollups "
          f"({inv['lines']} lines):")
    print(f"  first request (compute + freeze + JSON) "
          f"{inv['first_request_s'] * 1000:8.1f} ms   (goal < 1000 ms)")
    print(f"  stored document                         "
          f"{inv['stored_request_s'] * 1000:8.2f} ms")
    print(f"  CSV from frozen lines                   "
          f"{inv['csv_from_frozen_s'] * 1000:8.2f} ms")
    print(f"  one customer's JSON                     "
          f"{inv['one_customer_s'] * 1000:8.2f} ms")
    print(f"quota_evaluate, {q['domains']} domains with quotas, "
          f"1 s metering:")
    print(f"  mean {q['evaluate_mean_s'] * 1000:.2f} ms, "
          f"max {q['evaluate_max_s'] * 1000:.2f} ms per METER batch")
    h = res["history"]
    print(f"quota read path, {h['domains']} domains, this month's "
          f"{h['hourly_rows']} hourly rollups, {h['pending_deltas']} "
          f"deltas not rolled up:")
    print(f"  quota_get, no quota / one quota      "
          f"{h['quota_get_none_s'] * 1000:6.3f} / "
          f"{h['quota_get_one_s'] * 1000:6.3f} ms")
    print(f"  quota_evaluate, no quota: first      "
          f"{h['evaluate_first_none_s'] * 1000:6.3f} ms, then "
          f"{h['evaluate_none_s'] * 1000:6.3f} ms per batch")
    print(f"  quota_evaluate, one quota            "
          f"{h['evaluate_one_mean_s'] * 1000:6.3f} ms mean, "
          f"{h['evaluate_one_max_s'] * 1000:6.3f} ms max per batch")
    print(f"  quota_put (starts the month's total) "
          f"{h['quota_put_s'] * 1000:6.3f} ms")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
