#!/usr/bin/env python3
"""billingd benchmarks: ingest throughput, database size, link bandwidth.

    bench/bench_billingd.py OUT.json

1. Ingest: hvsim --serve-link with 2000 domains, ACK-paced (--speed 0: the
   simulator advances as fast as billingd acknowledges), 150 simulated
   seconds of 1 s metering = 300,000 domain-samples. Throughput is samples
   stored (and acknowledged: ACK only after COMMIT) per wall second, from
   the peer's start to the final sample being in the database; once with
   synchronous=FULL (the shipped setting) and once with NORMAL, to show what
   the fsync at every commit costs.
2. Size: bytes of samples + usage_delta (+ boot_domains) per stored sample
   (SQLite's dbstat), times 2,592,000 seconds = bytes per domain-month of
   1 s samples; then `billingd --rollup` with retention 0 and the bytes per
   1-minute and 1-hour rollup row, times 43,200 + 720 rows = bytes per
   domain-month after rollup.
3. Link: METER bytes per domain per METER round (= bytes/s per domain at
   1 s metering), from hvsim's own counters.
"""
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "billingd"))
from harness import Billingd, Peer, cleanup, wait_until, workdir  # noqa: E402

DOMAINS = 2000
SECONDS = 150
MONTH_S = 30 * 86400


def ingest(sync):
    d = workdir()
    sock = os.path.join(d, "link.sock")
    b = Billingd(d, sock, log_level="warn", synchronous=sync,
                 rollup_interval_s=0, retention_days=0)
    b.start()
    peer = Peer(d, sock, domains=DOMAINS, speed=0, run_ms=SECONDS * 1000,
                extra=["--replay-kib", "131072", "--quiet"])
    t0 = time.monotonic()
    peer.start()
    done = wait_until(lambda: b.final_stored(peer.final_ns, DOMAINS), 600,
                      step=0.01)
    t1 = time.monotonic()
    dump = peer.stop()
    b.stop()
    n = b.sql("SELECT count(*) FROM samples")[0][0]
    if not done or n != DOMAINS * SECONDS:
        raise SystemExit("bench_billingd: ingest incomplete: %d samples" % n)
    return b, dump, n / (t1 - t0), t1 - t0


def table_bytes(db, names):
    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    r = {}
    for name in names:
        r[name] = c.execute("SELECT coalesce(sum(pgsize),0) FROM dbstat "
                            "WHERE name=?", (name,)).fetchone()[0]
    c.close()
    return r


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench/billingd.json"
    b, dump, rate_full, secs_full = ingest("full")
    _, _, rate_normal, secs_normal = ingest("normal")

    n = DOMAINS * SECONDS
    raw = table_bytes(b.db, ["samples", "usage_delta", "boot_domains"])
    per_sample = (raw["samples"] + raw["usage_delta"]) / n
    r = b.cmd("--rollup")
    if r.returncode:
        raise SystemExit("bench_billingd: rollup failed: " + r.stderr)
    roll = table_bytes(b.db, ["usage_1m", "usage_1h"])
    rows_1m = b.sql("SELECT count(*) FROM usage_1m")[0][0]
    rows_1h = b.sql("SELECT count(*) FROM usage_1h")[0][0]
    per_1m = roll["usage_1m"] / rows_1m
    per_1h = roll["usage_1h"] / rows_1h
    link = dump["link"]
    meter_per_dom = link["meter_bytes"] / (dump["meter_rounds"] * DOMAINS)

    res = {
        "domains": DOMAINS,
        "simulated_s": SECONDS,
        "samples": n,
        "ingest_samples_per_s_sync_full": round(rate_full),
        "ingest_wall_s_sync_full": round(secs_full, 3),
        "ingest_samples_per_s_sync_normal": round(rate_normal),
        "ingest_wall_s_sync_normal": round(secs_normal, 3),
        "full_over_normal": round(rate_full / rate_normal, 3),
        "bytes_per_sample_raw": round(per_sample, 1),
        "bytes_samples_table": raw["samples"],
        "bytes_delta_table": raw["usage_delta"],
        "bytes_per_domain_month_raw": round(per_sample * MONTH_S),
        "bytes_per_rollup_row_1m": round(per_1m, 1),
        "bytes_per_rollup_row_1h": round(per_1h, 1),
        "bytes_per_domain_month_rollup": round(per_1m * 43200 +
                                               per_1h * 720),
        "link_meter_bytes_per_domain_per_round": round(meter_per_dom, 2),
        "link_bytes_per_s_per_domain_at_1s": round(meter_per_dom, 2),
        "max_ack_lag_ms": link["max_ack_lag_ms"],
    }
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print("%-44s %14s" % ("billingd (2000 domains, 1 s metering)", "value"))
    rows = [
        ("ingest, synchronous=FULL (samples/s)", res["ingest_samples_per_s_sync_full"]),
        ("ingest, synchronous=NORMAL (samples/s)", res["ingest_samples_per_s_sync_normal"]),
        ("FULL / NORMAL", res["full_over_normal"]),
        ("bytes per sample (samples + deltas)", res["bytes_per_sample_raw"]),
        ("bytes per domain-month, raw 1 s", res["bytes_per_domain_month_raw"]),
        ("bytes per domain-month, 1 min + 1 h rollups", res["bytes_per_domain_month_rollup"]),
        ("link METER bytes/s per domain", res["link_bytes_per_s_per_domain_at_1s"]),
        ("max ACK lag (ms, ACK-paced)", res["max_ack_lag_ms"]),
    ]
    for k, v in rows:
        print("%-44s %14s" % (k, v))
    cleanup()


if __name__ == "__main__":
    main()
