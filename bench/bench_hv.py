#!/usr/bin/env python3
"""Hypervisor benchmarks (make bench): prints a table, writes JSON.

  boot      wall time from QEMU start to the first guest instruction (the
            guest's first console line), TCG without -icount, median of 5,
            for QEMU's multiboot1 loader and for the GRUB ISO
  cost      hypercall round trip and domain switch in TSC cycles, measured
            by the guest (hcbench) under -icount: instruction-exact
  overhead  cpuhog work units per second in four domains against the same
            loop run natively by the hypervisor in ring 0, same boot, as a
            ratio (goal >= 0.98)
"""
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(ROOT, "build")
HVBOOT = os.path.join(B, "bin", "hvboot")
FSCONFIG = os.path.join(B, "bin", "fsconfig")
KERNEL = os.path.join(B, "hypervisor", "fairshare.bin")


def conf(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False, dir=B)
    f.write(text)
    f.close()
    return f.name


def hvboot(text, run_ms, extra=None):
    path = conf(text)
    cmd = [HVBOOT, "--config", path, "--run-ms", str(run_ms), "--json"]
    if extra:
        cmd += ["--append", extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(path)
    if p.returncode:
        sys.exit("bench_hv: hvboot failed:\n" + p.stderr)
    return json.loads(p.stdout)


def time_to_guest(args):
    """Seconds from spawning QEMU to the guest's first console line."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    buf = b""
    try:
        while time.monotonic() - t0 < 60:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                if b"cpuhog: dom" in buf:
                    return time.monotonic() - t0
    finally:
        p.kill()
        p.wait()
    sys.exit("bench_hv: guest never started:\n" + buf.decode(errors="replace"))


def bench_boot():
    hog = os.path.join(B, "guests", "cpuhog.elf")
    base = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "256",
            "-display", "none", "-no-reboot", "-nodefaults", "-serial", "stdio"]
    direct = base + ["-kernel", KERNEL, "-append", "run_ms=100",
                     "-initrd", hog + " name=hog"]
    tmp = tempfile.mkdtemp(dir=B)
    os.makedirs(os.path.join(tmp, "iso", "boot", "grub"))
    shutil.copy(KERNEL, os.path.join(tmp, "iso", "boot"))
    shutil.copy(hog, os.path.join(tmp, "iso", "boot"))
    with open(os.path.join(tmp, "iso", "boot", "grub", "grub.cfg"), "w") as f:
        f.write("set timeout=0\nmenuentry fairshare {\n"
                " multiboot2 /boot/fairshare.bin run_ms=100\n"
                " module2 /boot/cpuhog.elf name=hog\n boot\n}\n")
    iso = os.path.join(tmp, "b.iso")
    subprocess.run(["grub-mkrescue", "-o", iso, os.path.join(tmp, "iso")],
                   check=True, capture_output=True)
    kd = statistics.median(time_to_guest(direct) for _ in range(5))
    gd = statistics.median(time_to_guest(base + ["-cdrom", iso])
                           for _ in range(5))
    shutil.rmtree(tmp)
    return {"direct_s": round(kd, 4), "grub_iso_s": round(gd, 4),
            "iso_over_direct": round(gd / kd, 2)}


def bench_cost():
    hc = hvboot("[domain h]\nimage = hcbench\nargs = mode=hypercall "
                "iters=200000\n", 5000)
    y = hvboot("[domain y1]\nimage = hcbench\nargs = mode=yield iters=50000\n"
               "[domain y2]\nimage = hcbench\nargs = mode=yield "
               "iters=50000\n", 5000)
    hc_cyc = hc["domains"][0]["report"]["cycles_x1000"] / 1000
    y_cyc = statistics.mean(d["report"]["cycles_x1000"] / 1000
                            for d in y["domains"])
    # One yield as y1 measures it: its hypercall, a switch to y2, y2's
    # return from its own yield and its next yield, a switch back: two
    # hypercalls and two switches (each switch: the decision, FPU and
    # address-space change, timer programming).
    return {"hypercall_cycles": round(hc_cyc, 1),
            "yield_round_trip_cycles": round(y_cyc, 1),
            "switch_cycles": round((y_cyc - 2 * hc_cyc) / 2, 1),
            "clock": "TSC under -icount shift=0: 1 cycle = 1 instruction"}


def bench_overhead():
    hogs = "".join("[domain hog%d]\nimage = cpuhog\nargs = report=0\n" % i
                   for i in range(4))
    r = hvboot(hogs, 4000, extra="bench_native_ms=1000")
    native = r["bench"]["native_units"] / r["bench"]["native_ns"]
    units = sum(d["report"]["units"] for d in r["domains"])
    guest = units / r["elapsed_ns"]
    return {"native_units_per_s": round(native * 1e9),
            "guest_units_per_s": round(guest * 1e9),
            "ratio": round(guest / native, 5),
            "domains": 4, "hv_ns": r["hv_ns"], "elapsed_ns": r["elapsed_ns"]}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(B, "bench", "hv.json")
    res = {"boot": bench_boot(), "cost": bench_cost(),
           "overhead": bench_overhead()}
    b, c, o = res["boot"], res["cost"], res["overhead"]
    print("boot to first guest instruction (wall, TCG, no icount, median of 5)")
    print("  QEMU -kernel (multiboot1) %8.3f s" % b["direct_s"])
    print("  GRUB ISO (multiboot2)     %8.3f s   (%.1fx)" %
          (b["grub_iso_s"], b["iso_over_direct"]))
    print("cost in TSC cycles (icount: instruction-exact)")
    print("  hypercall round trip      %8.1f" % c["hypercall_cycles"])
    print("  yield round trip          %8.1f" % c["yield_round_trip_cycles"])
    print("  domain switch             %8.1f" % c["switch_cycles"])
    print("virtualization overhead (4 cpuhog domains vs ring 0, same boot)")
    print("  native units/s            %12d" % o["native_units_per_s"])
    print("  in domains units/s        %12d" % o["guest_units_per_s"])
    print("  ratio                     %12.5f  (goal >= 0.98)" % o["ratio"])
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
