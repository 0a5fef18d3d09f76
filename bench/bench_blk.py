#!/usr/bin/env python3
"""Block ring and memory grant benchmarks (make bench): a table and JSON.

Every figure comes from a QEMU boot under -icount shift=0 (hvboot's
default), where the TSC advances one tick per guest instruction and
tsc_hz is 1e9: "cycles" are instructions, exact and the same on any host,
and "per second" is per second of that virtual time. So the figures say
what the code costs, not how fast this machine is; compare them with each
other (the ratios below), within one run.

  ring      one unthrottled iohog alone on the host (verify=0, 50% reads),
            for three request sizes: requests/s through the ring, total
            cycles per request (guest and hypervisor), and the hypervisor's
            cycles per request: the guest's rdtsc around each
            FS_HC_BLK_NOTIFY (iohog's notify_cycles, the synchronous back
            end with hypercall entry and exit) plus all of the hypervisor's
            own time (hv_ns: passes resumed from its timer, interrupts)
  ratios    a request's hypervisor cost in hypercall round trips (hcbench,
            same run), and the copy's cost per KiB (the 4 KiB and 1 KiB
            rows' difference)
  memory    one memgrow with no ceiling and no growth bucket, growing by
            1024-page calls: pages granted per second of the hypervisor's
            time in the increase calls (memgrow's grant_cycles: zeroing,
            mapping, accounting) and end to end, with the guest checking
            and dirtying every page
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(ROOT, "build")
HVBOOT = os.path.join(B, "bin", "hvboot")
RUN_MS = 1000
# (request KiB, queue depth): 1 and 4 KiB stay within one pass of the back
# end (hypervisor/core/blk.c), 64 KiB does not.
RING = ((1, 8), (4, 4), (64, 8))
GROW_MB = 128


def hvboot(text, run_ms):
    f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False, dir=B)
    f.write(text)
    f.close()
    p = subprocess.run([HVBOOT, "--config", f.name, "--run-ms", str(run_ms),
                        "--json"], capture_output=True, text=True)
    os.unlink(f.name)
    if p.returncode:
        sys.exit("bench_blk: hvboot failed:\n" + p.stderr)
    return json.loads(p.stdout)


def cycles(r, ns):
    return ns * r["tsc_hz"] / 1e9


def bench_ring(req_kb, qd):
    r = hvboot("[domain io]\nimage = iohog\nmemory_mb = 4\ndisk_mb = 16\n"
               "args = req_kb=%d qd=%d mix=50 verify=0\n" % (req_kb, qd),
               RUN_MS)
    g = r["domains"][0]["report"]
    if g["errors"] or not g["ops"]:
        sys.exit("bench_blk: iohog failed: %s" % g)
    span = g["last_ns"] - g["start_ns"]
    hv = g["notify_cycles"] + cycles(r, r["hv_ns"])
    return {"req_kb": req_kb, "qd": qd, "ops": g["ops"],
            "req_per_s": round(g["ops"] * 1e9 / span),
            "mib_per_s": round(g["bytes"] * 1e9 / span / 2**20, 1),
            "cycles_per_req": round(cycles(r, span) / g["ops"], 1),
            "hv_cycles_per_req": round(hv / g["ops"], 1),
            "req_per_notify": round(g["ops"] / max(g["notifies"], 1), 2),
            "hv_ns": r["hv_ns"]}


def bench_hypercall():
    r = hvboot("[domain h]\nimage = hcbench\nargs = mode=hypercall "
               "iters=100000\n", 5000)
    return r["domains"][0]["report"]["cycles_x1000"] / 1000


def bench_memory():
    r = hvboot("[domain mg]\nimage = memgrow\nmemory_mb = 4\n"
               "memory_max_mb = 0\n"
               "args = target_mb=%d step_pages=1024 end=run\n" % GROW_MB,
               2000)
    g = r["domains"][0]["report"]
    n = g["granted_pages"]
    if n == 0 or g["refused_host"] or g["nonzero_pages"]:
        sys.exit("bench_blk: memgrow failed: %s" % g)
    grant_s = g["grant_cycles"] / r["tsc_hz"]
    return {"pages": n, "step_pages": 1024,
            "hv_pages_per_s": round(n / grant_s),
            "hv_cycles_per_page": round(g["grant_cycles"] / n, 1),
            "end_to_end_pages_per_s": round(n * 1e9 / g["grow_ns"]),
            "hv_share_of_growth": round(
                g["grant_cycles"] / cycles(r, g["grow_ns"]), 3)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        B, "bench", "blk.json")
    hc = bench_hypercall()
    ring = [bench_ring(kb, qd) for kb, qd in RING]
    by_kb = {x["req_kb"]: x for x in ring}
    ratios = {
        "hv_cost_in_hypercalls_1k": round(
            by_kb[1]["hv_cycles_per_req"] / hc, 2),
        "hv_share_of_cpu_1k": round(
            by_kb[1]["hv_cycles_per_req"] / by_kb[1]["cycles_per_req"], 3),
        "copy_cycles_per_kib": round(
            (by_kb[4]["hv_cycles_per_req"] - by_kb[1]["hv_cycles_per_req"])
            / 3, 1),
    }
    mem = bench_memory()
    res = {"clock": "TSC under -icount shift=0: 1 cycle = 1 instruction, "
                    "tsc_hz 1e9 (virtual time)",
           "hypercall_cycles": hc, "ring": ring, "ratios": ratios,
           "memory": mem}
    print("block ring, one unthrottled iohog alone (virtual time, icount)")
    print("  req  qd     req/s     MiB/s  cycles/req  hv cycles/req  "
          "req/notify")
    for x in ring:
        print("  %2dK %3d %9d %9.1f %11.1f %14.1f %11.2f" %
              (x["req_kb"], x["qd"], x["req_per_s"], x["mib_per_s"],
               x["cycles_per_req"], x["hv_cycles_per_req"],
               x["req_per_notify"]))
    print("  hypercall round trip          %8.1f cycles" % hc)
    print("  1K request in the hypervisor  %8.2f hypercalls, %.1f%% of "
          "its CPU" % (ratios["hv_cost_in_hypercalls_1k"],
                       100 * ratios["hv_share_of_cpu_1k"]))
    print("  copy                          %8.1f cycles per KiB" %
          ratios["copy_cycles_per_kib"])
    print("memory grants, memgrow to %d MiB in 1024-page calls" % GROW_MB)
    print("  hypervisor                    %8d pages/s (%.1f cycles/page)" %
          (mem["hv_pages_per_s"], mem["hv_cycles_per_page"]))
    print("  end to end, guest touching    %8d pages/s (hypervisor %.1f%%)" %
          (mem["end_to_end_pages_per_s"], 100 * mem["hv_share_of_growth"]))
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
