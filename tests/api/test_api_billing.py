#!/usr/bin/env python3
"""What a hosting provider's billing desk notices through the API: plans
are readable (by tenants too) and replaceable only whole and valid; a
quota set through the API is enforced by billingd's main loop (suspend
pauses the domain on the hypervisor within a metering interval, raising
the quota unpauses it); usage and invoices answer for the caller's own
domains and customer only; an invoice comes as JSON or, with
Accept: text/csv, as CSV."""
import csv
import io
import json
import os
import subprocess
import time

from apilib import BIN, ROOT, Setup, done, ok, tail, wait_until

s = Setup(speed=4)
api, key = s.api, s.admin
MONTH = time.strftime("%Y-%m", time.gmtime())  # invoices are UTC months
wait_until(lambda: api.req("GET", "/v1/domains/dom-00003", key=key).json()
           ["counters"], 10)

r = api.req("GET", "/v1/plans", key=s.acme)
plans = r.json() if r.status == 200 else None
ok(plans and plans.get("plans"), "tenant_reads_plans", r)
r = api.req("PUT", "/v1/plans", {"plans": "nope"}, key=key)
ok(r.status in (400, 422) and r.problem() and
   api.req("GET", "/v1/plans", key=key).json() == plans,
   "invalid_plans_refused_and_unchanged", r)

# A customer on a plan that exists.
pname = plans["plans"][0]["name"] if plans else "default"
r = api.req("PUT", "/v1/customers/acme", {"name": "Acme Ltd", "plan": pname},
            key=key)
ok(r.status == 200 and r.json().get("plan") == pname,
   "customer_put_with_existing_plan", r)

# ---- quota enforcement through the main loop
q = {"limits": {"cpu_seconds": {"limit": 1, "action": "suspend"}}}
r = api.req("PUT", "/v1/domains/dom-00001/quota", q, key=key)
ok(r.status == 200, "quota_put_accepted", r)
ok(wait_until(lambda: api.req("GET", "/v1/domains/dom-00001", key=key)
              .json()["state"] == "paused", 15),
   "suspend_quota_pauses_domain_on_hypervisor",
   "%s\n%s" % (api.req("GET", "/v1/domains/dom-00001/quota", key=key),
               tail(s.b.log)))
q["limits"]["cpu_seconds"]["limit"] = 10 ** 9
r = api.req("PUT", "/v1/domains/dom-00001/quota", q, key=key)
ok(r.status == 200 and wait_until(
    lambda: api.req("GET", "/v1/domains/dom-00001", key=key).json()["state"]
    == "running", 90), "raising_quota_unpauses_domain", tail(s.b.log))
# throttle: the reduced shares reach the hypervisor (pushed by the main
# loop after the evaluation), and are lifted with the quota.
live = lambda: api.req("GET", "/v1/domains/dom-00003",  # noqa: E731
                       key=key).json()["live"] or {}
cap0 = live().get("cpu_cap_pct")
q2 = {"limits": {"cpu_seconds": {"limit": 1, "action": "throttle",
                                 "throttle": {"cpu_cap_pct": 7}}}}
r = api.req("PUT", "/v1/domains/dom-00003/quota", q2, key=key)
ok(r.status == 200 and wait_until(lambda: live().get("cpu_cap_pct") == 7,
                                  15),
   "throttle_quota_puts_reduced_shares_in_force_on_hypervisor",
   "%r %s\n%s" % (r, live(), tail(s.b.log)))
q2["limits"]["cpu_seconds"]["limit"] = 10 ** 9
r = api.req("PUT", "/v1/domains/dom-00003/quota", q2, key=key)
ok(r.status == 200 and wait_until(lambda: live().get("cpu_cap_pct") == cap0,
                                  90),
   "raising_quota_lifts_throttle", "%s %s" % (cap0, live()))

# The PUT's answer (and the next GET) already shows what the new limits
# put in force: the main loop evaluates before the API answers. A limit
# of 0 is exhausted at once; the throttle holds the domain below the
# operator's own cap, and GET .../shares says so next to that cap.
D4 = "/v1/domains/dom-00004"
r = api.req("PATCH", D4 + "/shares", {"cpu_cap_pct": 50}, key=key)
ok(r.status == 200 and r.json()["in_force"]["throttled_by"] == [] and
   r.json()["in_force"]["shares"]["cpu_cap_pct"] == 50,
   "unthrottled_shares_in_force_are_the_operators", r)
q4 = {"limits": {"cpu_seconds": {"limit": 0, "action": "throttle",
                                 "throttle": {"cpu_cap_pct": 7}}}}
r = api.req("PUT", D4 + "/quota", q4, key=key)
g = api.req("GET", D4 + "/quota", key=key)
ok(r.status == 200 and r.json()["in_force"] == ["cpu_seconds"] and
   g.json()["in_force"] == ["cpu_seconds"],
   "quota_put_below_usage_shows_in_force_at_once", "%r\n%r" % (r, g))
sh = api.req("GET", D4 + "/shares", key=key).json()
ok(sh["shares"]["cpu_cap_pct"] == 50 and
   sh["in_force"]["shares"]["cpu_cap_pct"] == 7 and
   sh["in_force"]["throttled_by"] == ["cpu_seconds"] and
   sh["in_force"]["throttled"] == ["cpu_cap_pct"],
   "shares_show_operator_value_and_throttle_in_force", sh)
ok(wait_until(lambda: (api.req("GET", "/v1/domains/dom-00004", key=key)
                       .json()["live"] or {}).get("cpu_cap_pct") == 7, 10),
   "throttle_from_quota_put_reaches_hypervisor")
q4["limits"]["cpu_seconds"]["limit"] = 10 ** 9
r = api.req("PUT", D4 + "/quota", q4, key=key)
sh = api.req("GET", D4 + "/shares", key=key).json()
ok(r.status == 200 and r.json()["in_force"] == [] and
   sh["in_force"]["throttled_by"] == [] and
   sh["in_force"]["shares"]["cpu_cap_pct"] == 50,
   "quota_put_above_usage_lifts_at_once", "%r\n%s" % (r, sh))

r = api.req("GET", "/v1/domains/dom-00001/quota", key=s.acme)
ok(r.status == 200 and r.json().get("limits"), "tenant_reads_own_quota", r)

# ---- usage and invoices, scoped
U = "?from=%s-01T00:00:00Z&to=%s&step=1d" % (
    MONTH, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)))
r = api.req("GET", "/v1/domains/dom-00001/usage" + U, key=s.acme)
ok(r.status == 200 and r.json()["totals"]["cpu_ns"] > 0,
   "tenant_reads_own_usage", r)
r = api.req("GET", "/v1/invoices?month=" + MONTH, key=s.acme)
doms = set()
if r.status == 200:
    for c in r.json()["customers"]:
        doms |= {ln["domain"] for ln in c["lines"]}
ok(r.status == 200 and {c["customer"] for c in r.json()["customers"]} ==
   {"acme"} and doms <= {"dom-00001", "dom-00002"} and doms,
   "tenant_invoice_holds_only_its_own_domains", r)
r = api.req("GET", "/v1/invoices?month=%s&customer=acme" % MONTH,
            key=s.acme)
ok(r.status == 200, "tenant_may_name_itself", r)
r = api.req("GET", "/v1/invoices?month=%s&customer=globex" % MONTH,
            key=s.acme)
ok(r.status == 404 and "dom-00003" not in r.body,
   "tenant_naming_other_customer_gets_404", r)
r = api.req("GET", "/v1/invoices?month=" + MONTH, key=key,
            headers={"Accept": "text/csv"})
rows = list(csv.DictReader(io.StringIO(r.body))) if r.status == 200 else []
ok(r.status == 200 and r.ctype.startswith("text/csv") and rows and
   {"acme", "globex"} <= {x.get("customer") for x in rows},
   "admin_invoice_csv_covers_every_customer", r)
r = api.req("GET", "/v1/invoices?month=" + MONTH, key=key,
            headers={"Accept": "text/html, application/json;q=0.5"})
ok(r.status == 200 and r.ctype.startswith("application/json"),
   "accept_list_falls_back_to_json", r)
for accept, want in (("text/csv;q=0.5, application/json", "application/json"),
                     ("application/json;q=0.2, text/csv", "text/csv"),
                     ("text/csv;q=0, */*", "application/json"),
                     ("text/*;q=0.9, application/json;q=0.8", "text/csv")):
    r = api.req("GET", "/v1/invoices?month=" + MONTH, key=key,
                headers={"Accept": accept})
    ok(r.status == 200 and r.ctype.startswith(want),
       "accept_q_values_pick_%s_for_%s" % (
           want.split("/")[1], accept.replace(" ", "")), r)

# hvctl --api: the invoice as CSV for people, usage as JSON.
def hvctl(*a):
    return subprocess.run([os.path.join(BIN, "hvctl"), "--api",
                           "http://127.0.0.1:%d" % s.port, "--key", s.acme]
                          + list(a), cwd=ROOT, capture_output=True,
                          text=True, timeout=30)


r = hvctl("invoice", MONTH)
ok(r.returncode == 0 and r.stdout.startswith("month,") and
   "dom-00001" in r.stdout and "dom-00003" not in r.stdout,
   "hvctl_api_invoice_csv_as_tenant", r.stdout[:300] + r.stderr)
r = hvctl("invoice", MONTH, "globex")
ok(r.returncode == 1 and "404" in r.stderr,
   "hvctl_api_invoice_other_customer_404", r.stderr)
r = hvctl("--json", "usage", "dom-00001", MONTH + "-01T00:00:00Z",
          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)),
          "1d")
ok(r.returncode == 0 and json.loads(r.stdout)["totals"]["cpu_ns"] > 0,
   "hvctl_api_usage_json", r.stdout[:300] + r.stderr)
r = hvctl("usage", "dom-00001", MONTH + "-01T00:00:00Z",
          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)),
          "1d")
ok(r.returncode == 0 and r.stdout.startswith("dom-00001, ") and
   "\nTOTAL " in r.stdout and "{" not in r.stdout,
   "hvctl_api_usage_prints_a_table_without_json", r.stdout[:500] + r.stderr)
r = hvctl("show", "dom-00001")
ok(r.returncode == 0 and "{" not in r.stdout and
   "state " in r.stdout and "\nSHARE " in r.stdout and
   "cpu_seconds" in r.stdout,
   "hvctl_api_show_prints_a_table_without_json", r.stdout[:800] + r.stderr)
r = hvctl("--json", "show", "dom-00001")
ok(r.returncode == 0 and json.loads(r.stdout)["name"] == "dom-00001",
   "hvctl_api_show_json_for_scripts", r.stdout[:300] + r.stderr)
ok(api.alive(), "server_unharmed")
done()
