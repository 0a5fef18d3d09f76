"""Shared pieces of the REST API tests: a running hvsim + billingd with the
API on a free loopback port, keys, and an HTTP client (http.client, no
third-party code). Builds on tests/billingd/harness.py (TAP, processes,
cleanup)."""
import http.client
import json
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "billingd"))
import harness  # noqa: E402
from harness import (BIN, ROOT, Billingd, Peer, done, ok, tail,  # noqa
                     wait_until, workdir)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def ctype(self):
        return self.headers.get("content-type", "")

    def problem(self):
        """The problem+json, or None if the reply is not one."""
        if not self.ctype.startswith("application/problem+json"):
            return None
        p = self.json()
        if set(p) != {"type", "title", "status", "detail"} or \
                p["status"] != self.status:
            return None
        return p

    def __repr__(self):
        return "%d %s %s" % (self.status, self.ctype, self.body[:300])


class Api:
    def __init__(self, port):
        self.port = port

    def req(self, method, path, body=None, key=None, headers=None,
            ctype="application/json", raw=None):
        h = {}
        if key:
            h["Authorization"] = "Bearer " + key
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and ctype:
            h["Content-Type"] = ctype
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()},
                        r.read().decode("utf-8", "replace"))
        finally:
            c.close()

    def alive(self):
        try:
            return self.req("GET", "/v1/health").status == 200
        except OSError:
            return False


class Setup:
    """hvsim (domains dom-00001..) + billingd with the API, an admin key,
    two customers (acme, globex) with one tenant key each; acme owns
    dom-00001 and dom-00002, globex dom-00003."""

    def __init__(self, domains=6, run_ms=3600000, speed=1, **conf):
        self.d = workdir()
        self.sock = os.path.join(self.d, "link.sock")
        self.peer = Peer(self.d, self.sock, domains=domains, speed=speed,
                         run_ms=run_ms)
        self.peer.start()
        self.port = free_port()
        c = {"api_port": self.port, "api_threads": 2}
        c.update(conf)
        self.b = Billingd(self.d, self.sock, **c)
        self.b.start()
        self.api = Api(self.port)
        if not wait_until(self.api.alive, 10):
            raise RuntimeError("API did not come up:\n" + tail(self.b.log))
        wait_until(lambda: self.api.req("GET", "/v1/health").json()
                   ["link"]["domains"] >= domains, 10)
        self.admin = self.key("admin")
        for cid in ("acme", "globex"):
            r = self.api.req("POST", "/v1/customers", {"id": cid,
                             "name": cid.title() + " Ltd"}, key=self.admin)
            assert r.status == 201, r
        for dom, cid in (("dom-00001", "acme"), ("dom-00002", "acme"),
                         ("dom-00003", "globex")):
            r = self.api.req("PUT", "/v1/domains/%s/owner" % dom,
                             {"customer": cid}, key=self.admin)
            assert r.status == 200, r
        self.acme = self.key("tenant", "acme")
        self.globex = self.key("tenant", "globex")

    def key(self, role, customer=None):
        args = ["--create-key", "--role", role]
        if customer:
            args += ["--customer", customer]
        r = self.b.cmd(*args)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()
