#!/usr/bin/env python3
"""What an operator notices when driving the hypervisor through the API
(against hvsim --serve-link): a shares change reaches the hypervisor and is
reported applied; with the link down it is reported pending and applied
after the reconnect; pause, unpause, create and destroy round-trip; a
command while the link is down is 503; hvctl --api does the same things
from the command line; after billingd stops, hvctl --link reads the new
weight straight from the hypervisor."""
import json
import os
import signal
import subprocess
import time

from apilib import BIN, ROOT, Peer, Setup, done, ok, tail, wait_until

s = Setup(api_cmd_wait_ms=1000, api_health_max_lag_s=3)
api, key = s.api, s.admin
D1 = "/v1/domains/dom-00001"


def dom(name):
    return api.req("GET", "/v1/domains/" + name, key=key).json()


def link_up():
    return api.req("GET", "/v1/health").json()["link"]["up"]


# ---- shares reach the hypervisor
t0 = time.monotonic()
r = api.req("PATCH", D1 + "/shares", {"cpu_weight": 777, "io_bps": 123456},
            key=key)
dt = time.monotonic() - t0
ok(r.status == 200 and r.json()["applied"] is True and
   r.json()["state"] == "applied", "shares_change_applied_by_hypervisor", r)
ok(wait_until(lambda: (dom("dom-00001")["live"] or {}).get("cpu_weight")
              == 777 and dom("dom-00001")["live"]["io_bps"] == 123456, 5),
   "live_view_reads_new_values_back_from_hypervisor", dom("dom-00001"))
print("# PATCH applied in %.1f ms" % (dt * 1000))

# ---- lifecycle
r = api.req("POST", "/v1/domains/dom-00002/pause", key=key)
ok(r.status == 200 and r.json()["state"] == "paused" and
   dom("dom-00002")["state"] == "paused", "pause_round_trip", r)
r = api.req("POST", "/v1/domains/dom-00002/pause", key=key)
ok(r.status == 409 and r.problem(), "pausing_a_paused_domain_is_409", r)
r = api.req("POST", "/v1/domains/dom-00002/unpause", key=key)
ok(r.status == 200 and dom("dom-00002")["state"] == "running",
   "unpause_round_trip", r)
r = api.req("POST", "/v1/domains", {"name": "api-web", "image": "periodic",
                                    "args": "period_us=10000 burst_us=2000",
                                    "memory_mb": 32, "cpu_weight": 300,
                                    "owner": "acme"}, key=key)
ok(r.status == 201 and r.headers.get("location") == "/v1/domains/api-web"
   and r.json()["domid"] > 0, "create_round_trip", r)
ok(wait_until(lambda: dom("api-web")["state"] == "running", 5) and
   dom("api-web")["live"]["cpu_weight"] == 300 and
   dom("api-web")["owner"] == "acme", "created_domain_listed_with_owner",
   dom("api-web"))
names = [d["name"] for d in api.req("GET", "/v1/domains",
                                    key=s.acme).json()["domains"]]
ok("api-web" in names, "tenant_sees_domain_created_for_it", names)
r = api.req("POST", "/v1/domains", {"name": "api-web", "image": "cpu"},
            key=key)
ok(r.status == 409 and r.problem(), "create_existing_name_is_409", r)
r = api.req("POST", "/v1/domains", {"name": "api-x", "image": "nosuch"},
            key=key)
ok(r.status == 422 and r.problem(), "create_unknown_image_is_422", r)
r = api.req("POST", "/v1/domains", {"name": "api-mem", "image": "cpu",
                                    "memory_mb": 32, "memory_max_mb": 48},
            key=key)
ok(r.status == 201 and r.json().get("memory_max_mb") == 48 and
   wait_until(lambda: (dom("api-mem")["live"] or {}).get("memory_max_mb")
              == 48, 5) and dom("api-mem")["managed"] == ["memory_max_mb"],
   "create_with_memory_max_mb_limits_the_new_domain",
   "%r %s" % (r, dom("api-mem")))
api.req("DELETE", "/v1/domains/api-mem", key=key)
r = api.req("DELETE", "/v1/domains/api-web", key=key)
ok(r.status == 200 and wait_until(lambda: dom("api-web")["state"] ==
                                  "absent", 5),
   "destroy_round_trip", "%r %s" % (r, dom("api-web")))
r = api.req("POST", "/v1/domains/api-web/pause", key=key)
ok(r.status == 409 and r.problem(), "pause_of_destroyed_domain_is_409", r)

# ---- hvctl --api
url = "http://127.0.0.1:%d" % s.port


def hvctl(*a):
    return subprocess.run([os.path.join(BIN, "hvctl"), "--api", url, "--key",
                           key] + list(a), cwd=ROOT, capture_output=True,
                          text=True, timeout=30)


r = hvctl("--json", "list")
ok(r.returncode == 0 and len(json.loads(r.stdout)["domains"]) >= 6,
   "hvctl_api_list_json", r.stdout + r.stderr)
r = hvctl("list")
ok(r.returncode == 0 and r.stdout.startswith("NAME") and
   "dom-00001" in r.stdout and " 777 " in r.stdout, "hvctl_api_list_table",
   r.stdout + r.stderr)
r = hvctl("set", "dom-00003", "cpu_weight=333")
ok(r.returncode == 0 and "dom-00003: applied" in r.stdout,
   "hvctl_api_set", r.stdout + r.stderr)
r = hvctl("set", "dom-00003", "cpu_weight=0")
ok(r.returncode == 2, "hvctl_api_set_checks_range_locally", r.stderr)
r1, r2 = hvctl("pause", "dom-00004"), hvctl("unpause", "dom-00004")
ok(r1.returncode == 0 and "paused" in r1.stdout and r2.returncode == 0,
   "hvctl_api_pause_unpause", r1.stdout + r1.stderr + r2.stderr)
r1 = hvctl("create", "cpu", "cli-web", "cpu_weight=200", "memory_mb=16",
           "owner=globex")
r2 = hvctl("--json", "show", "cli-web")
r3 = hvctl("destroy", "cli-web")
ok(r1.returncode == 0 and "cli-web: running, domid" in r1.stdout and r2.returncode == 0 and
   json.loads(r2.stdout)["owner"] == "globex" and r3.returncode == 0,
   "hvctl_api_create_show_destroy", r1.stderr + r2.stderr + r3.stderr)
r = hvctl("show", "no-such")
ok(r.returncode == 1 and "404" in r.stderr, "hvctl_api_reports_problem",
   r.stderr)
r = subprocess.run([os.path.join(BIN, "hvctl"), "--api", url, "--key",
                    "bad.key", "list"], capture_output=True, text=True)
ok(r.returncode == 1 and "401" in r.stderr, "hvctl_api_bad_key_401",
   r.stderr)

# ---- a hypervisor that does not answer: the 503 says the command was
# sent and its outcome is unknown; it is carried out when the hypervisor
# runs again, which a GET shows.
h = api.req("GET", "/v1/health").json()
ok(h["status"] == "ok" and h["max_ingest_lag_seconds"] == 3,
   "health_ok_while_records_flow", h)
os.kill(s.peer.p.pid, signal.SIGSTOP)
try:
    r = api.req("POST", "/v1/domains/dom-00005/pause", key=key)
finally:
    os.kill(s.peer.p.pid, signal.SIGCONT)
p = r.problem() or {}
ok(r.status == 503 and "sent, outcome unknown" in p.get("detail", "") and
   "GET /v1/domains/dom-00005" in p.get("detail", ""),
   "unanswered_command_503_says_sent_outcome_unknown", r)
ok(wait_until(lambda: dom("dom-00005")["state"] == "paused", 10),
   "command_sent_before_503_is_carried_out_later", dom("dom-00005"))
api.req("POST", "/v1/domains/dom-00005/unpause", key=key)

# ---- link down: pending, then applied after the reconnect
s.peer.stop()
ok(wait_until(lambda: not link_up(), 10), "health_shows_link_down")
r = api.req("PATCH", D1 + "/shares", {"cpu_weight": 888}, key=key)
ok(r.status == 200 and r.json()["applied"] is False and
   r.json()["state"] == "pending", "shares_change_pending_while_link_down",
   r)
r = api.req("POST", "/v1/domains/dom-00002/pause", key=key)
ok(r.status == 503 and r.problem() and
   r.problem()["detail"].startswith("not sent"),
   "command_while_link_down_is_503_not_sent", r)
ok(wait_until(lambda: api.req("GET", "/v1/health").json()["status"]
              == "degraded", 10) and
   api.req("GET", "/v1/health").json()["ingest_lag_seconds"] > 3,
   "health_degraded_when_ingest_lags", api.req("GET", "/v1/health"))
ok(dom("dom-00001")["state"] == "unknown", "state_unknown_while_link_down")
peer2 = Peer(s.d, s.sock, domains=6, speed=1, run_ms=3600000, name="hvsim2")
peer2.start()
ok(wait_until(lambda: api.req("GET", D1 + "/shares", key=key).json()
              ["state"] == "applied", 15) and
   wait_until(lambda: (dom("dom-00001")["live"] or {}).get("cpu_weight")
              == 888, 5),
   "pending_change_applied_after_reconnect",
   "%s\n%s" % (api.req("GET", D1 + "/shares", key=key), tail(s.b.log)))

# ---- billingd gone: the hypervisor itself has the value
rc = s.b.stop()
ok(rc == 0, "billingd_stops_cleanly_with_api", tail(s.b.log))
r = subprocess.run([os.path.join(BIN, "hvctl"), "--link", s.sock, "--json",
                    "list"], capture_output=True, text=True, timeout=30)
try:
    w = {d["name"]: d["cpu_weight"] for d in json.loads(r.stdout)["domains"]}
except ValueError:
    w = {}
ok(w.get("dom-00001") == 888 and w.get("dom-00003") == 333,
   "hypervisor_holds_values_set_through_api", r.stdout[:500] + r.stderr)
done()
