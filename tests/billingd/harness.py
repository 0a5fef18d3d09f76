"""Shared pieces of the billingd tests: TAP output, processes, the peer.

The peer is the hypervisor's end of the management link. Today it is
`hvsim --serve-link`; the QEMU end-to-end tests will plug the real hypervisor
in through the same interface (class Peer below): start() makes the link
socket appear, stop() ends the run cleanly and returns the peer's own final
counters, which the tests compare with what billingd stored.

Everything runs in a fresh directory under build/ and every child process is
killed at exit (atexit + signal handlers), so a failing test leaves nothing
behind.
"""
import atexit
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")
FAULTPROXY = os.path.join(ROOT, "tools", "link", "faultproxy.py")
U64 = 1 << 64
FIELDS = ["cpu_ns", "ready_ns", "cap_throttled_ns", "warped_ns", "dispatches",
          "wakeups", "hypercalls", "blk_read_ops", "blk_write_ops",
          "blk_read_bytes", "blk_write_bytes", "blk_throttled_ns",
          "mem_pages", "mem_page_ns"]
GAUGE = "mem_pages"

_children = []
_n = 0
_failed = 0


def ok(cond, name, why=""):
    global _n, _failed
    _n += 1
    if cond:
        print("ok %d - %s" % (_n, name))
    else:
        _failed += 1
        print("not ok %d - %s" % (_n, name))
        for line in str(why).splitlines() or [""]:
            print("# " + line)
    sys.stdout.flush()
    return cond


def done():
    print("1..%d" % _n)
    cleanup()
    sys.exit(1 if _failed else 0)


def cleanup():
    for p in _children:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
            p.wait()
    del _children[:]


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def workdir():
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    return tempfile.mkdtemp(prefix="billingd-test-", dir=os.path.join(ROOT, "build"))


def spawn(args, log=None, env=None):
    out = open(log, "ab") if log else subprocess.DEVNULL
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen(args, stdout=out, stderr=out, env=e, cwd=ROOT)
    _children.append(p)
    return p


def wait_until(cond, timeout, step=0.02):
    """Poll cond() until it is true; False after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if cond():
                return True
        except sqlite3.OperationalError:
            pass  # database busy or not created yet
        time.sleep(step)
    return False


def stop(p, sig=signal.SIGTERM, timeout=10):
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


class Peer:
    """hvsim --serve-link as the hypervisor. Swap for a QEMU-backed class
    with the same methods to run the tests against the real hypervisor."""

    def __init__(self, d, sock, domains=20, speed=10, run_ms=5000,
                 boot_id=None, extra=(), name="hvsim"):
        self.d, self.sock = d, sock
        self.dump = os.path.join(d, name + ".json")
        self.log = os.path.join(d, name + ".log")
        self.args = [os.path.join(BIN, "hvsim"), "--serve-link", sock,
                     "--domains", str(domains), "--speed", str(speed),
                     "--run-ms", str(run_ms), "--dump", self.dump]
        if boot_id:
            self.args += ["--boot-id", str(boot_id)]
        self.args += list(extra)
        self.run_ms = run_ms
        self.p = None

    def start(self):
        self.p = spawn(self.args, self.log)
        if not wait_until(lambda: os.path.exists(self.sock), 10):
            raise RuntimeError("peer did not create " + self.sock)

    @property
    def final_ns(self):
        return self.run_ms * 1000000

    def stop(self):
        """Stop cleanly; returns the peer's final state (hvsim's dump)."""
        stop(self.p)
        with open(self.dump) as f:
            return json.load(f)


class Billingd:
    def __init__(self, d, sock, name="billingd", **conf):
        self.d = d
        self.db = os.path.join(d, name + ".db")
        self.conf = os.path.join(d, name + ".conf")
        self.log = os.path.join(d, name + ".log")
        c = {"link_socket": sock, "database": self.db, "log_level": "info",
             "reconnect_min_ms": 20, "reconnect_max_ms": 200,
             "desired_poll_ms": 50, "api_port": 0}
        c.update(conf)
        with open(self.conf, "w") as f:
            for k, v in c.items():
                f.write("%s = %s\n" % (k, v))
        self.p = None

    def start(self, env=None):
        self.p = spawn([os.path.join(BIN, "billingd"), "--config", self.conf],
                       self.log, env)
        return self.p

    def stop(self):
        return stop(self.p)

    def kill9(self):
        return stop(self.p, signal.SIGKILL)

    def cmd(self, *args):
        return subprocess.run([os.path.join(BIN, "billingd"), "--config",
                               self.conf] + list(args), cwd=ROOT,
                              capture_output=True, text=True)

    def sql(self, q, *a):
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return c.execute(q, a).fetchall()
        finally:
            c.close()

    def newest_sample_ns(self):
        """The newest stored METER's mono_ns (0: none yet)."""
        return self.sql("SELECT max(mono_ns) FROM samples")[0][0] or 0

    def final_stored(self, mono_ns, count):
        """At least count samples at mono_ns in some boot (uses the
        primary key: cheap to poll)."""
        return self.sql("SELECT count(*) FROM samples WHERE boot IN "
                        "(SELECT id FROM boots) AND mono_ns=?",
                        mono_ns)[0][0] >= count

    def has_sample(self, boot_id, mono_ns, count):
        r = self.sql("SELECT count(*) FROM samples WHERE boot=(SELECT id "
                     "FROM boots WHERE boot_id=?) AND mono_ns=?",
                     s64(boot_id), mono_ns)
        return r[0][0] >= count

    def totals(self, boot_id):
        """{name: {field: value}} from the deltas of one boot: cumulative
        fields summed mod 2^64, the gauge from the newest sample."""
        boot = "(SELECT id FROM boots WHERE boot_id=?)"
        names = dict(self.sql(
            "SELECT bd.domid, d.name FROM boot_domains bd JOIN domains d ON "
            "d.id=bd.domain WHERE bd.boot=" + boot, s64(boot_id)))
        rows = [(names.get(r[0], "?domid%d" % r[0]),) + r[1:] for r in
                self.sql("SELECT domid, %s FROM usage_delta WHERE boot=%s" %
                         (",".join(FIELDS), boot), s64(boot_id))]
        t = {}
        for r in rows:
            acc = t.setdefault(r[0], [0] * len(FIELDS))
            for i, v in enumerate(r[1:]):
                if FIELDS[i] != GAUGE:
                    acc[i] = (acc[i] + v) % U64
        gauges = self.sql(
            "SELECT d.name, bd.mem_pages FROM boot_domains bd JOIN boots b "
            "ON b.id=bd.boot JOIN domains d ON d.id=bd.domain WHERE "
            "b.boot_id=? AND bd.last_mono_ns IS NOT NULL", s64(boot_id))
        for name, g in gauges:
            t.setdefault(name, [0] * len(FIELDS))[FIELDS.index(GAUGE)] = g
        return {k: dict(zip(FIELDS, v)) for k, v in t.items()}


def s64(v):
    """The storage rule: u64 as the int64 with the same bits."""
    return v - U64 if v >= 1 << 63 else v


def compare(stored, dump):
    """Differences between billingd's totals and the peer's counters, as a
    list of strings (empty: equal exactly)."""
    diffs = []
    for d in dump["domains"]:
        got = stored.get(d["name"])
        if got is None:
            diffs.append("%s: nothing stored" % d["name"])
            continue
        for f in FIELDS:
            want = d["usage"][f] % U64
            if got[f] % U64 != want:
                diffs.append("%s.%s: stored %d, peer %d" %
                             (d["name"], f, got[f] % U64, want))
    extra = set(stored) - {d["name"] for d in dump["domains"]}
    if extra:
        diffs.append("stored domains the peer does not have: %s" % sorted(extra))
    return diffs


def hvctl(sock, *args):
    return subprocess.run([os.path.join(BIN, "hvctl"), "--link", sock] +
                          list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=30)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no %s)" % path
