#!/usr/bin/env python3
"""A domain moved from one customer to another mid-month, as both
customers and the provider see it (docs/billing.md section 11): the move
counts from the next whole UTC minute and is kept in the domain's history
(GET .../owner, with an ETag that If-Match checks, so two panels cannot
both move it blindly); the old owner loses the domain but keeps its usage
until the move on its invoice; the new owner sees usage only from the
move on, never the old owner's; a refused move changes nothing."""
import calendar
import os
import subprocess
import time

from apilib import BIN, Setup, done, ok, wait_until

s = Setup()
api = s.api
D = "/v1/domains/dom-00002"


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


r = api.req("GET", D + "/owner", key=s.admin)
before = r.json() if r.status == 200 else {}
ok(r.status == 200 and before.get("owner") == "acme" and
   r.headers.get("etag") and before["history"][-1]["customer"] == "acme",
   "owner_document_names_acme_with_an_etag", r)
etag = r.headers.get("etag", "")
r = api.req("GET", D + "/owner", key=s.acme)
ok(r.status == 200 and r.json()["owner"] == "acme" and
   "history" not in r.json(), "tenant_sees_its_ownership_not_history", r)

# refused moves change nothing
for name, body, hdr, status in (
        ("unknown_customer", {"customer": "nobody"}, {}, 422),
        ("bad_type", {"customer": 7}, {}, 422),
        ("unknown_field", {"customer": "globex", "x": 1}, {}, 422),
        ("stale_if_match", {"customer": "globex"}, {"If-Match": '"1"'}, 412)):
    r = api.req("PUT", D + "/owner", body, key=s.admin, headers=hdr)
    after = api.req("GET", D + "/owner", key=s.admin)
    ok(r.status == status and r.problem() and after.json() == before and
       after.headers.get("etag") == etag,
       "refused_move_%s_is_%d_and_changes_nothing" % (name, status), r)
ok(api.req("PUT", D + "/owner", {"customer": "globex"},
           key=s.acme).status == 403, "tenant_cannot_move_its_domain")

# usage acme had before the move: on its invoice, whoever owns it later
# (a domain not metered yet has nothing to split: wait for some)
now = time.time()
wait_until(lambda: api.req("GET", D + "/usage?from=%s&to=%s" % (
    utc(now - 7200), utc(now + 3600)), key=s.admin).json()["totals"]
    ["cpu_ns"] > 0, 30)
t_put = time.time()
month = time.strftime("%Y-%m", time.gmtime(t_put))
r = api.req("PUT", D + "/owner", {"customer": "globex"}, key=s.admin,
            headers={"If-Match": etag})
doc = r.json() if r.status == 200 else {}
eff = (int(t_put) // 60 + 1) * 60
ok(r.status == 200 and doc.get("owner") == "globex" and
   doc.get("since") in (utc(eff), utc(eff + 60)) and
   r.headers.get("etag") not in (None, etag) and
   [h["customer"] for h in doc["history"]][-2:] == ["acme", "globex"],
   "move_counts_from_the_next_whole_minute_and_is_in_the_history", r)
since = calendar.timegm(time.strptime(doc.get("since", utc(eff)),
                                      "%Y-%m-%dT%H:%M:%SZ"))

ok(api.req("GET", D, key=s.acme).status == 404 and
   api.req("GET", D + "/usage?from=%s&to=%s" % (utc(since - 3600),
           utc(since + 60)), key=s.acme).status == 404,
   "old_owner_no_longer_sees_the_domain")
r = api.req("GET", "/v1/invoices?month=" + month, key=s.acme)
lines = [ln for c in r.json().get("customers", []) for ln in c["lines"]
         if ln["domain"] == "dom-00002" and ln["meter"] == "cpu"] \
    if r.status == 200 else []
ok(lines and int(lines[0]["quantity"]) > 0,
   "old_owner_keeps_its_usage_until_the_move_on_its_invoice", r)

# the new owner: nothing before the move, in any bucket or the totals
q = "/usage?from=%s&to=%s&step=1h" % (utc(since - 7200), utc(since + 3600))
r = api.req("GET", D + q, key=s.globex)
u = r.json() if r.status == 200 else {}
ok(r.status == 200 and u.get("visible_from") == utc(since) and
   all(b["samples"] == 0 and b["cpu_ns"] == 0 for b in u["buckets"]) and
   u["totals"]["cpu_ns"] == 0,
   "new_owner_sees_no_usage_before_the_move", r)
r = api.req("GET", D + q, key=s.admin)
ok(r.status == 200 and r.json()["totals"]["cpu_ns"] > 0 and
   "visible_from" not in r.json(), "admin_sees_the_whole_usage", r)
# views that cannot be cut at the move are withheld from the new owner
r = api.req("GET", D, key=s.globex)
q = api.req("GET", D + "/quota", key=s.globex)
ok(r.status == 200 and r.json()["counters"] is None and
   "counters_withheld" in r.json() and r.json()["quota"]["usage"] is None
   and q.status == 200 and q.json()["usage"] is None,
   "new_owner_gets_no_counters_or_quota_usage_with_the_old_owners_in", r)
r = api.req("GET", D, key=s.admin)
o = api.req("GET", "/v1/domains/dom-00001", key=s.acme)
ok(r.status == 200 and r.json()["counters"]["cpu_ns"] > 0 and
   o.status == 200 and o.json()["counters"]["cpu_ns"] > 0 and
   o.json()["quota"]["usage"] is not None,
   "admin_and_an_unmoved_domains_owner_still_see_counters", (r, o))

r = api.req("GET", "/v1/invoices?month=" + month, key=s.globex)
got = sum(int(ln["quantity"]) for c in r.json().get("customers", [])
          for ln in c["lines"] if ln["domain"] == "dom-00002" and
          ln["meter"] == "cpu") if r.status == 200 else -1
a = api.req("GET", D + "/usage?from=%s&to=%s&step=1m" %
            (utc(since), utc(since + 3600)), key=s.admin)
after = a.json()["totals"]["cpu_ns"] if a.status == 200 else -1
ok(r.status == 200 and "acme" not in r.body and 0 <= got <= after,
   "new_owner_is_billed_only_usage_from_the_move_on",
   "globex cpu %d, the domain's since the move %d" % (got, after))
# hvctl --api owner: the same, for people
hv = [os.path.join(BIN, "hvctl"), "--api", "http://127.0.0.1:%d" % s.port,
      "--key", s.admin, "owner", "dom-00002"]
r = subprocess.run(hv, capture_output=True, text=True, timeout=30)
ok(r.returncode == 0 and ("owner globex since " + utc(since)) in r.stdout
   and "(start)" in r.stdout and "acme" in r.stdout,
   "hvctl_owner_shows_owner_and_history", r.stdout + r.stderr)
r = subprocess.run(hv + ["nobody"], capture_output=True, text=True,
                   timeout=30)
ok(r.returncode != 0 and "nobody" in r.stderr and
   api.req("GET", D + "/owner", key=s.admin).json()["owner"] == "globex",
   "hvctl_owner_refused_move_changes_nothing", r.stdout + r.stderr)
ok(api.alive(), "server_unharmed")
done()
