#!/usr/bin/env python3
"""Isolation: a hostile guest's calls are refused and charged to it; faults
and privileged instructions kill only the offender; frames come zeroed;
a bad module line is refused at boot while the others run."""
import os
import subprocess
import tempfile

import hvtest
from hvtest import ok, note, boot, dom, share, ROOT

HOSTILE = """
[domain evil]
image = hostile
args = duration_ms=29000 seed=7 end=priv
[domain a]
image = cpuhog
[domain b]
image = cpuhog
"""
r, err = boot(HOSTILE, 30000)
if ok(r is not None, "the hypervisor survives 30 s of a hostile guest", err):
    e, a, b = dom(r, "evil"), dom(r, "a"), dom(r, "b")
    note("hostile: %s; report %s" % (e["state"], e["report"]))
    note("shares: evil %.4f a %.4f b %.4f" %
         (share(e, r), share(a, r), share(b, r)))
    ok(e["report"].get("attempts", 0) > 10000,
       "the hostile guest made many bad calls", e["report"])
    ok(e["report"].get("bad_ok", 1) == 0,
       "every call known to be invalid was refused", e["report"])
    ok(e["state"] == "killed" and "#GP" in (e["exit_reason"] or ""),
       "its final privileged instruction killed it with a reason",
       e["exit_reason"])
    for d in (a, b):
        ok(share(d, r) >= 1 / 3 - 0.005,
           "cpuhog %s gets at least a third minus 0.5 pp" % d["name"],
           share(d, r))
    ok(share(e, r) <= 1 / 3 + 0.005,
       "the hostile domain gets at most a third plus 0.5 pp", share(e, r))
    ok(a["state"] == "running" and b["state"] == "running",
       "its neighbours are still running")

# Each way of dying, next to a bystander that must not notice.
for end, sig in (("fault", "#PF"), ("ud", "#UD"), ("priv", "#GP")):
    cfg = """
[domain victim]
image = hostile
args = duration_ms=5 end=%s
[domain bystander]
image = cpuhog
""" % end
    r, err = boot(cfg, 200)
    if ok(r is not None, "end=%s: the hypervisor survives" % end, err):
        v = dom(r, "victim")
        ok(v["state"] == "killed" and sig in (v["exit_reason"] or ""),
           "end=%s kills the domain with a %s reason" % (end, sig),
           v["exit_reason"])
        by = dom(r, "bystander")
        ok(by["state"] == "running" and share(by, r) > 0.9,
           "end=%s: the bystander keeps running and gets the CPU" % end,
           by)

ZERO = """
[hypervisor]
poison_free = 1
[domain z]
image = zerocheck
memory_mb = 8
"""
r, err = boot(ZERO, 2000)
if ok(r is not None, "zerocheck boots on poisoned free memory", err):
    z = dom(r, "z")["report"]
    ok(z.get("checked_bytes", 0) > 7 * 2**20 and z.get("nonzero_bytes") == 0,
       "a guest reading its freshly assigned pages finds only zeros", z)
    ok(dom(r, "z")["state"] == "exited", "zerocheck exited normally",
       dom(r, "z")["exit_reason"])

# A bad module line that reaches the hypervisor anyway (fsconfig would have
# refused it): QEMU directly, then hvboot --parse-log.
kernel = os.path.join(ROOT, "build", "hypervisor", "fairshare.bin")
hog = os.path.join(ROOT, "build", "guests", "cpuhog.elf")
log = tempfile.NamedTemporaryFile(delete=False, dir=os.path.join(ROOT, "build"))
log.close()
initrd = ",".join([
    "%s name=good cpu_weight=256" % hog,
    "%s name=bad cpu_weight=0" % hog,
    "%s name=huge memory_mb=60000" % hog,
    "%s name=typo cpu_wieght=5" % hog,
    "%s name=notelf" % kernel,
])
p = subprocess.run(["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max",
                    "-m", "128", "-display", "none", "-no-reboot",
                    "-nodefaults", "-icount", "shift=0,sleep=off",
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                    "-serial", "file:" + log.name, "-kernel", kernel,
                    "-append", "run_ms=100", "-initrd", initrd],
                   capture_output=True, timeout=120)
ok(p.returncode == 1, "the hypervisor boots despite bad module lines",
   p.stderr)
q = subprocess.run([hvtest.HVBOOT, "--parse-log", log.name, "--json"],
                   capture_output=True, text=True)
os.unlink(log.name)
if ok(q.returncode == 0, "its report parses", q.stderr):
    import json
    r = json.loads(q.stdout)
    reasons = " | ".join(x.get("reason", "") for x in r.get("refused", []))
    note("refused: " + reasons)
    ok(len(r["refused"]) == 4, "four bad modules refused", reasons)
    ok("cpu_weight" in reasons and "out of memory" in reasons and
       "unknown domain key" in reasons and "not an ELF" in reasons,
       "each refusal names its reason", reasons)
    ok([d["name"] for d in r["domains"]] == ["good"] and
       r["domains"][0]["cpu_ns"] > 0, "the good domain runs")

hvtest.done()
