#!/usr/bin/env python3
"""What a hosting provider's customers must be able to rely on: without a
valid key nothing but health and the OpenAPI document answers (401 with
WWW-Authenticate: Bearer); a revoked key stops working; only the key's
hash is stored; a tenant key sees its own customer's domains, usage,
quota and invoices and nothing of another customer's by any endpoint or
parameter (404, so names cannot be probed), and changes nothing (403 on its
own domain)."""
import time
import hashlib

from apilib import Setup, done, ok

s = Setup()
api = s.api

# ---- keys
r = api.req("GET", "/v1/domains")
ok(r.status == 401 and r.problem() and
   r.headers.get("www-authenticate", "").startswith("Bearer"),
   "no_key_is_401_with_www_authenticate", "%r %s" % (r, r.headers))
kid, secret = s.admin.split(".")
flipped = kid + "." + ("0" if secret[0] != "0" else "1") + secret[1:]
for name, k in (("wrong_secret", flipped), ("garbage", "garbage"),
                ("unknown_id", "0123456789abcdef." + secret),
                ("empty", "")):
    r = api.req("GET", "/v1/domains", key=k)
    ok(r.status == 401 and r.problem(), "bad_key_%s_is_401" % name, r)
r = api.req("GET", "/v1/domains", headers={"Authorization": "Basic " +
                                           s.admin})
ok(r.status == 401, "non_bearer_scheme_is_401", r)
rows = s.b.sql("SELECT key_id, hash FROM api_keys WHERE key_id=?", kid)
ok(rows and bytes(rows[0][1]) == hashlib.sha256(s.admin.encode()).digest()
   and s.admin.encode() not in open(s.b.db, "rb").read(),
   "only_the_sha256_of_a_key_is_stored")
ok(api.req("GET", "/v1/health").status == 200 and
   api.req("GET", "/v1/openapi.yaml").status == 200,
   "health_and_openapi_need_no_key")
r = api.req("GET", "/v1/metrics")
ok(r.status == 200 and "billingd_link_up" in r.body,
   "metrics_need_no_key_from_loopback", r)

extra = s.key("admin")
ok(api.req("GET", "/v1/domains", key=extra).status == 200,
   "second_admin_key_works")
rv = s.b.cmd("--revoke-key", extra.split(".")[0])
r = api.req("GET", "/v1/domains", key=extra)
ok(rv.returncode == 0 and r.status == 401, "revoked_key_is_401",
   "%s %r" % (rv.stderr, r))
ok(s.b.cmd("--create-key", "--role", "tenant").returncode != 0 and
   s.b.cmd("--create-key", "--role", "tenant", "--customer",
           "nobody").returncode != 0 and
   s.b.cmd("--create-key", "--role", "root").returncode != 0,
   "create_key_refuses_bad_role_or_customer")

# ---- tenant isolation
names = lambda r: sorted(d["name"] for d in r.json()["domains"])  # noqa
ok(names(api.req("GET", "/v1/domains", key=s.acme)) ==
   ["dom-00001", "dom-00002"], "tenant_lists_only_its_domains")
ok(len(names(api.req("GET", "/v1/domains", key=s.admin))) >= 6,
   "admin_lists_every_domain")

U = "?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
reads = ["/v1/domains/{d}", "/v1/domains/{d}/shares",
         "/v1/domains/{d}/quota", "/v1/domains/{d}/usage" + U]
leaks = []
for other in ("dom-00003", "dom-00004", "no-such-dom"):
    for path in reads:
        url = path.format(d=other)
        r = api.req("GET", url, key=s.acme)
        if r.status != 404 or not r.problem():
            leaks.append("GET %s -> %r" % (url, r))
    # the same 404 text for hidden and absent: nothing to probe
changes = [("PUT", "/v1/domains/{d}/shares", {"cpu_weight": 5}),
           ("PATCH", "/v1/domains/{d}/shares", {"cpu_weight": 5}),
           ("PUT", "/v1/domains/{d}/quota", {}),
           ("PUT", "/v1/domains/{d}/owner", {"customer": "acme"}),
           ("POST", "/v1/domains/{d}/pause", None),
           ("POST", "/v1/domains/{d}/unpause", None),
           ("DELETE", "/v1/domains/{d}", None)]
for m, path, body in changes:
    url = path.format(d="dom-00003")
    r = api.req(m, url, body, key=s.acme)
    if r.status != 404:
        leaks.append("%s %s -> %r" % (m, url, r))
ok(not leaks, "tenant_gets_404_for_every_other_domain_by_every_endpoint",
   "\n".join(leaks))
r1 = api.req("GET", "/v1/domains/dom-00003", key=s.acme)
r2 = api.req("GET", "/v1/domains/nonexistent", key=s.acme)
ok(r1.json()["detail"].replace("dom-00003", "X") ==
   r2.json()["detail"].replace("nonexistent", "X"),
   "hidden_and_absent_domains_look_the_same")

forbidden = []
for m, path, body in changes:
    url = path.format(d="dom-00001")
    r = api.req(m, url, body, key=s.acme)
    if r.status != 403 or not r.problem():
        forbidden.append("%s %s -> %r" % (m, url, r))
for m, url, body in (("POST", "/v1/domains", {"name": "x", "image": "cpu"}),
                     ("POST", "/v1/customers", {"id": "x", "name": "x"}),
                     ("PUT", "/v1/customers/acme", {"name": "Mine"}),
                     ("PUT", "/v1/plans", {})):
    r = api.req(m, url, body, key=s.acme)
    if r.status != 403:
        forbidden.append("%s %s -> %r" % (m, url, r))
ok(not forbidden, "tenant_changes_nothing_403", "\n".join(forbidden))
g = api.req("GET", "/v1/domains/dom-00001/shares", key=s.admin).json()
ok(g["generation"] == 0 and g["managed"] == [],
   "tenant_attempts_changed_no_shares", g)

ok(api.req("GET", "/v1/domains/dom-00001", key=s.acme).status == 200 and
   api.req("GET", "/v1/domains/dom-00001/shares", key=s.acme).status == 200,
   "tenant_reads_its_own_domain")

r = api.req("GET", "/v1/customers", key=s.acme)
ok(r.status == 200 and [c["id"] for c in r.json()["customers"]] ==
   ["acme"], "tenant_sees_only_its_customer", r)
ok(api.req("GET", "/v1/customers/globex", key=s.acme).status == 404 and
   api.req("PUT", "/v1/customers/globex", {"name": "x"},
           key=s.acme).status == 404, "other_customer_is_404_for_tenant")

r = api.req("GET", "/v1/invoices?month=2026-01&customer=globex", key=s.acme)
ok(r.status == 404 and r.problem() and "globex" not in r.body.replace(
   "'globex'", ""), "tenant_invoice_for_other_customer_is_404", r)
r = api.req("GET", "/v1/invoices?month=2026-01&customer=nobody", key=s.acme)
ok(r.status == 404, "tenant_invoice_for_unknown_customer_is_404", r)
r = api.req("GET", "/v1/invoices?month=2026-01", key=s.acme)
ok(r.status == 404 and r.problem() and "metering began" in r.body,
   "invoice_for_a_month_before_any_metering_is_404", r)
r = api.req("GET", "/v1/invoices?month=" + time.strftime("%Y-%m",
            time.gmtime()), key=s.acme)
ok(r.status == 200 and "globex" not in r.body and "dom-00003" not in r.body
   and "acme" in r.body, "tenant_invoice_has_nothing_of_other_customers", r)
r = api.req("GET", "/v1/metrics", key=s.acme,
            headers={"X-Forwarded-For": "10.0.0.1"})
ok(r.status == 200, "metrics_on_loopback_ignore_forwarded_headers", r)
done()
