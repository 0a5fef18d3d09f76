"""Shared helpers for the system tests: boot a config in QEMU through
build/bin/hvboot (TCG, -icount: deterministic virtual time), parse its JSON,
print TAP. Each test_*.py is one suite; tools/run-tests.sh counts its lines.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HVBOOT = os.path.join(ROOT, "build", "bin", "hvboot")
_n = 0
_failed = 0


def ok(cond, name, diag=None):
    """One TAP line; diagnostics on failure (or always, with diag)."""
    global _n, _failed
    _n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (_n, name))
    if diag is not None and (not cond or os.environ.get("HVTEST_VERBOSE")):
        for line in str(diag).splitlines():
            print("# " + line)
    if not cond:
        _failed += 1
    sys.stdout.flush()
    return cond


def note(msg):
    for line in str(msg).splitlines():
        print("# " + line)
    sys.stdout.flush()


def done():
    print("1..%d" % _n)
    sys.exit(0)


def write_config(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False,
                                    dir=os.path.join(ROOT, "build"))
    f.write(text)
    f.close()
    return f.name


def _command(path, run_ms, iso=False, memory=None, extra=None, link=None,
             log=None):
    cmd = [HVBOOT, "--config", path, "--run-ms", str(run_ms), "--json"]
    if iso:
        cmd.append("--iso")
    if memory:
        cmd += ["--memory", str(memory)]
    if link:
        cmd += ["--link", link]
    if log:
        cmd += ["--log", log]
    if extra:
        cmd += ["--append", extra]
    return cmd


def boot(config_text, run_ms, iso=False, memory=None, extra=None):
    """Boot a config; return (json dict or None, stderr text)."""
    path = write_config(config_text)
    try:
        p = subprocess.run(_command(path, run_ms, iso, memory, extra),
                           capture_output=True, text=True, timeout=900)
    finally:
        os.unlink(path)
    if p.returncode != 0:
        return None, p.stderr
    return json.loads(p.stdout), p.stderr


def dom(result, name):
    for d in result["domains"]:
        if d["name"] == name:
            return d
    raise KeyError(name)


def share(d, result):
    return d["cpu_ns"] / result["elapsed_ns"]


def closes(result):
    """sum(cpu_ns) + idle_ns + hv_ns vs elapsed_ns: relative error."""
    total = sum(d["cpu_ns"] for d in result["domains"])
    total += result["idle_ns"] + result["hv_ns"]
    return abs(total - result["elapsed_ns"]) / result["elapsed_ns"]


def start(config_text, run_ms, link, log=None, extra=None):
    """Boot in the background with COM2 as the UNIX socket `link`; returns
    (Popen, finish) where finish() waits and returns the JSON report."""
    path = write_config(config_text)
    if os.path.exists(link):
        os.unlink(link)
    p = subprocess.Popen(_command(path, run_ms, extra=extra, link=link,
                                  log=log),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)

    def finish(timeout=900):
        out, err = p.communicate(timeout=timeout)
        os.unlink(path)
        if p.returncode != 0:
            return None, err
        return json.loads(out), err
    return p, finish
