#!/usr/bin/env python3
"""What an operator relies on when a client misbehaves: the per-address
connection limit holds (one client cannot take every slot), idle
connections are closed after api_conn_timeout_s, oversized headers are
refused within the per-connection memory, and the server keeps answering
afterwards. With api_port = 0 billingd runs without listening."""
import socket
import time

from apilib import Billingd, Setup, done, ok, tail, wait_until

s = Setup(api_per_ip_connections=4, api_conn_timeout_s=1,
          api_conn_memory_kb=16)
api = s.api


def probe():
    try:
        return api.req("GET", "/v1/health").status
    except OSError:
        return None


idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(4)]
time.sleep(0.1)
ok(probe() is None, "fifth_connection_from_one_address_refused")
ok(wait_until(lambda: probe() == 200, 5),
   "idle_connections_closed_after_timeout_then_served")
for c in idle:
    c.close()

r = None
try:
    r = api.req("GET", "/v1/health", headers={"X-Big": "a" * 40000})
except OSError:
    pass
ok(r is None or r.status >= 400, "oversized_headers_refused", r)
ok(probe() == 200, "server_answers_after_oversized_headers")

# Many concurrent keep-alive clients within the limits: all answered.
conns = []
for _ in range(3):
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    conns.append(c)
answers = [c.recv(4096).split(b"\r\n", 1)[0] for c in conns]
ok(all(a.startswith(b"HTTP/1.1 200") for a in answers),
   "concurrent_clients_within_limit_answered", answers)
for c in conns:
    c.close()

# No API: no openapi file needed, nothing served, the daemon runs.
b0 = Billingd(s.d, s.sock, name="noapi", api_port=0,
              api_openapi="/nonexistent")
b0.start()
time.sleep(1)
ok(b0.p.poll() is None and "api: http" not in open(b0.log).read(),
   "api_port_0_runs_without_the_api", tail(b0.log))
b0.stop()
done()
