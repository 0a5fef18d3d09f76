#!/usr/bin/env python3
"""What a panel developer notices when sending bad input: each mistake -
malformed JSON, wrong types, out-of-range values, unknown fields, duplicate
keys, oversized bodies, wrong content type, bad dates, months and steps,
unknown domains, a stale If-Match - gets its own specific 4xx
problem+json; afterwards the state is exactly as before (read back) and
the server still answers."""
import http.client
import json

from apilib import Setup, done, ok

s = Setup(api_max_body_kb=4)
api, key = s.api, s.admin
DOM = "/v1/domains/dom-00001"


def snapshot():
    sh = api.req("GET", DOM + "/shares", key=key)
    cu = api.req("GET", "/v1/customers", key=key).json()
    own = api.req("GET", DOM, key=key).json()["owner"]
    names = sorted(d["name"] for d in
                   api.req("GET", "/v1/domains", key=key).json()["domains"])
    return (sh.json()["shares"], sh.json()["generation"], sh.headers["etag"],
            cu, own, names)


# A known starting point: one managed key.
r = api.req("PATCH", DOM + "/shares", {"cpu_weight": 400}, key=key)
ok(r.status == 200, "baseline_patch_accepted", r)
before = snapshot()

cases = [
    # (name, method, path, kwargs, status, problem type suffix)
    ("malformed_json", "PATCH", DOM + "/shares",
     {"raw": b'{"cpu_weight": 5'}, 400, "malformed"),
    ("trailing_garbage", "PATCH", DOM + "/shares",
     {"raw": b'{"cpu_weight": 5} x'}, 400, "malformed"),
    ("not_an_object", "PUT", DOM + "/shares", {"raw": b"[1,2]"}, 400,
     "malformed"),
    ("duplicate_keys", "PATCH", DOM + "/shares",
     {"raw": b'{"cpu_weight": 5, "cpu_weight": 6}'}, 400, "malformed"),
    ("wrong_type_string", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": "500"}}, 422, "invalid-field"),
    ("wrong_type_float", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": 5.5}}, 422, "invalid-field"),
    ("wrong_type_bool", "PATCH", DOM + "/shares",
     {"body": {"io_bps": True}}, 422, "invalid-field"),
    ("out_of_range_high", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": 65536}}, 422, "invalid-field"),
    ("out_of_range_zero", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": 0}}, 422, "invalid-field"),
    ("out_of_range_cap", "PUT", DOM + "/shares",
     {"body": {"cpu_cap_pct": 101}}, 422, "invalid-field"),
    ("negative", "PATCH", DOM + "/shares", {"body": {"io_bps": -1}}, 422,
     "invalid-field"),
    ("unknown_field", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": 5, "turbo": 1}}, 422, "unknown-field"),
    ("growth_key_not_in_api", "PATCH", DOM + "/shares",
     {"body": {"mem_growth_pages_per_s": 5}}, 422, "unknown-field"),
    ("valid_then_invalid_changes_nothing", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": 999, "io_bps": "x"}}, 422, "invalid-field"),
    ("wrong_content_type", "PATCH", DOM + "/shares",
     {"raw": b'{"cpu_weight": 5}', "ctype": "text/plain"}, 415,
     "unsupported-media-type"),
    ("no_content_type", "PUT", DOM + "/shares",
     {"raw": b'{"cpu_weight": 5}', "ctype": None}, 415,
     "unsupported-media-type"),
    ("merge_patch_type_only_for_patch", "PUT", DOM + "/shares",
     {"raw": b'{"cpu_weight": 5}', "ctype": "application/merge-patch+json"},
     415, "unsupported-media-type"),
    ("oversized_body", "PATCH", DOM + "/shares",
     {"raw": b'{"cpu_weight": 5, "x": "' + b"a" * 8000 + b'"}'}, 413,
     "too-large"),
    ("unknown_domain_get", "GET", "/v1/domains/nope", {}, 404, "not-found"),
    ("unknown_domain_patch", "PATCH", "/v1/domains/nope/shares",
     {"body": {"cpu_weight": 5}}, 404, "not-found"),
    ("invalid_domain_name", "GET", "/v1/domains/a%20b", {}, 404,
     "not-found"),
    ("stale_if_match", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": 5}, "headers": {"If-Match": '"999"'}}, 412,
     "precondition-failed"),
    ("weak_if_match", "PATCH", DOM + "/shares",
     {"body": {"cpu_weight": 5}, "headers": {"If-Match": "W/" +
                                             before[2]}}, 412,
     "precondition-failed"),
    ("usage_no_zone", "GET", DOM + "/usage?from=2026-01-01T00:00:00&"
     "to=2026-01-02T00:00:00Z", {}, 400, "bad-parameter"),
    ("usage_feb_30", "GET", DOM + "/usage?from=2026-02-30T00:00:00Z&"
     "to=2026-03-02T00:00:00Z", {}, 400, "bad-parameter"),
    ("usage_missing_from", "GET", DOM + "/usage?to=2026-01-02T00:00:00Z",
     {}, 400, "bad-parameter"),
    ("usage_to_before_from", "GET", DOM + "/usage?from=2026-01-02T00:00:00Z"
     "&to=2026-01-01T00:00:00Z", {}, 400, "bad-parameter"),
    ("usage_bad_step", "GET", DOM + "/usage?from=2026-01-01T00:00:00Z&"
     "to=2026-01-02T00:00:00Z&step=5m", {}, 400, "bad-parameter"),
    ("usage_too_many_buckets", "GET", DOM + "/usage?from=1970-01-01T00:00:00Z"
     "&to=2026-01-02T00:00:00Z&step=1m", {}, 400, "bad-parameter"),
    ("usage_unknown_parameter", "GET", DOM + "/usage?from=2026-01-01T00:00:00Z"
     "&to=2026-01-02T00:00:00Z&limit=5", {}, 400, "bad-parameter"),
    ("usage_repeated_parameter", "GET", DOM + "/usage?from=2026-01-01T00:00:"
     "00Z&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", {}, 400,
     "bad-parameter"),
    ("invoice_month_13", "GET", "/v1/invoices?month=2026-13", {}, 400,
     "bad-parameter"),
    ("invoice_month_format", "GET", "/v1/invoices?month=2026-1", {}, 400,
     "bad-parameter"),
    ("invoice_no_month", "GET", "/v1/invoices", {}, 400, "bad-parameter"),
    ("invoice_not_acceptable", "GET", "/v1/invoices?month=2026-01",
     {"headers": {"Accept": "application/pdf"}}, 406, "not-acceptable"),
    ("parameter_on_plain_route", "GET", "/v1/domains?owner=acme", {}, 400,
     "bad-parameter"),
    ("customer_missing_name", "POST", "/v1/customers", {"body": {"id": "x"}},
     422, "missing-field"),
    ("customer_bad_id", "POST", "/v1/customers",
     {"body": {"id": "a b", "name": "x"}}, 422, "invalid-field"),
    ("customer_id_dotdot", "POST", "/v1/customers",
     {"body": {"id": "..", "name": "x"}}, 422, "invalid-field"),
    ("customer_id_dot", "POST", "/v1/customers",
     {"body": {"id": ".", "name": "x"}}, 422, "invalid-field"),
    ("nul_in_domain_name", "GET", DOM + "%00junk", {}, 404, "not-found"),
    ("nul_in_customer_param", "GET", "/v1/invoices?month=2026-01&"
     "customer=acme%00x", {}, 404, "not-found"),
    ("nul_in_date", "GET", DOM + "/usage?from=2026-01-01T00:00:00Z%00junk&"
     "to=2026-01-02T00:00:00Z", {}, 400, "bad-parameter"),
    ("invalid_utf8_name_keeps_problem_body", "GET", "/v1/domains/%FF", {},
     404, "not-found"),
    ("customer_exists", "POST", "/v1/customers",
     {"body": {"id": "acme", "name": "Again"}}, 409, "conflict"),
    ("customer_unknown_field", "PUT", "/v1/customers/acme",
     {"body": {"name": "x", "vip": True}}, 422, "unknown-field"),
    ("customer_put_unknown", "PUT", "/v1/customers/nobody",
     {"body": {"name": "x"}}, 404, "not-found"),
    ("owner_unknown_customer", "PUT", DOM + "/owner",
     {"body": {"customer": "nobody"}}, 422, "invalid-field"),
    ("owner_wrong_type", "PUT", DOM + "/owner", {"body": {"customer": 5}},
     422, "invalid-field"),
    ("create_missing_image", "POST", "/v1/domains",
     {"body": {"name": "newdom"}}, 422, "missing-field"),
    ("create_bad_name", "POST", "/v1/domains",
     {"body": {"name": "bad name", "image": "cpu"}}, 422, "invalid-field"),
    ("create_unknown_owner", "POST", "/v1/domains",
     {"body": {"name": "newdom", "image": "cpu", "owner": "nobody"}}, 422,
     "invalid-field"),
    ("create_weight_range", "POST", "/v1/domains",
     {"body": {"name": "newdom", "image": "cpu", "cpu_weight": 0}}, 422,
     "invalid-field"),
    ("create_memory_max_out_of_range", "POST", "/v1/domains",
     {"body": {"name": "newdom", "image": "cpu", "memory_max_mb": -1}}, 422,
     "invalid-field"),
    ("invoice_empty_customer_is_not_every_customer", "GET",
     "/v1/invoices?month=2026-01&customer=", {}, 400, "bad-parameter"),
    ("invoice_bare_customer_is_not_every_customer", "GET",
     "/v1/invoices?month=2026-01&customer", {}, 400, "bad-parameter"),
    ("invoice_q0_on_both_types", "GET", "/v1/invoices?month=2026-01",
     {"headers": {"Accept": "application/json;q=0, text/csv;q=0, */*;q=0"}},
     406, "not-acceptable"),
    ("json_route_accept_rules_json_out", "GET", DOM,
     {"headers": {"Accept": "text/csv, application/json;q=0"}}, 406,
     "not-acceptable"),
    ("uri_too_long", "GET", "/v1/domains/" + "a" * 3000, {}, 414,
     "uri-too-long"),
    ("stale_if_match_quota", "PUT", DOM + "/quota",
     {"body": {"limits": {"io_ops": {"limit": 5, "action": "notify"}}},
      "headers": {"If-Match": '"0000000000000000"'}}, 412,
     "precondition-failed"),
    ("stale_if_match_customer", "PUT", "/v1/customers/acme",
     {"body": {"name": "Overwritten"},
      "headers": {"If-Match": '"0000000000000000"'}}, 412,
     "precondition-failed"),
]
for name, m, path, kw, status, typ in cases:
    r = api.req(m, path, key=key, **kw)
    p = r.problem()
    good = r.status == status and p and p["type"].endswith(":" + typ)
    after = snapshot()
    ok(good and after == before and api.alive(),
       "%s_is_%d_%s_and_changes_nothing" % (name, status, typ.replace(
           "-", "_")),
       "%s %s -> %r\nbefore %s\nafter  %s" % (m, path, r, before, after))

# HEAD is GET without the body: what a load balancer probes.
h = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
h.request("HEAD", "/v1/health")
hr = h.getresponse()
ok(hr.status == 200 and hr.read() == b"", "head_health_is_200_without_body",
   hr.status)
h.close()

# A chunked upload past the limit (no Content-Length): 413 after reading.
c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
c.putrequest("PATCH", DOM + "/shares")
c.putheader("Authorization", "Bearer " + key)
c.putheader("Content-Type", "application/json")
c.putheader("Transfer-Encoding", "chunked")
c.endheaders()
for _ in range(10):
    chunk = b" " * 1000
    c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
c.send(b"0\r\n\r\n")
r = c.getresponse()
body = r.read()
ok(r.status == 413 and json.loads(body)["status"] == 413 and
   snapshot() == before, "chunked_oversized_body_is_413", (r.status, body))

# If-Match with the current ETag works and moves the ETag.
r = api.req("PATCH", DOM + "/shares", {"cpu_weight": 401}, key=key,
            headers={"If-Match": before[2]})
ok(r.status == 200 and r.headers["etag"] != before[2] and
   r.json()["shares"]["cpu_weight"] == 401, "current_if_match_accepted", r)
r2 = api.req("PATCH", DOM + "/shares", {"cpu_weight": 402}, key=key,
             headers={"If-Match": before[2]})
ok(r2.status == 412 and api.req("GET", DOM + "/shares", key=key).json()
   ["shares"]["cpu_weight"] == 401,
   "second_panel_with_old_etag_gets_412_and_no_overwrite", r2)

# Merge-patch semantics: null stops managing a key; PUT replaces.
r = api.req("PATCH", DOM + "/shares", {"io_bps": 5000000}, key=key,
            ctype="application/merge-patch+json")
ok(r.status == 200 and sorted(r.json()["managed"]) == ["cpu_weight",
                                                       "io_bps"],
   "patch_adds_a_managed_key", r)
r = api.req("PATCH", DOM + "/shares", {"io_bps": None}, key=key)
ok(r.status == 200 and r.json()["managed"] == ["cpu_weight"],
   "patch_null_stops_managing", r)
r = api.req("PUT", DOM + "/shares", {"io_iops": 100}, key=key)
ok(r.status == 200 and r.json()["managed"] == ["io_iops"],
   "put_replaces_the_managed_set", r)
# If-Match on quota, plans and customers, as on shares: the current ETag
# is taken, a stale one is 412 and the record keeps the first writer's
# values.
for path, first, second, read in (
        (DOM + "/quota",
         {"limits": {"io_ops": {"limit": 7, "action": "notify"}}},
         {"limits": {"io_ops": {"limit": 8, "action": "notify"}}},
         lambda j: j["limits"]),
        ("/v1/customers/globex", {"name": "Globex One"},
         {"name": "Globex Two"}, lambda j: j["name"]),
        ("/v1/plans", None, None, lambda j: j["plans"])):
    g = api.req("GET", path, key=key)
    tag = g.headers.get("etag")
    if first is None:  # plans: the document itself, one price changed
        first, second = g.json(), g.json()
        first["plans"][0]["base_micro"] += 1
        second["plans"][0]["base_micro"] += 2
    r1 = api.req("PUT", path, first, key=key, headers={"If-Match": tag})
    r2 = api.req("PUT", path, second, key=key, headers={"If-Match": tag})
    now = api.req("GET", path, key=key)
    ok(tag and r1.status == 200 and r1.headers.get("etag") != tag and
       r2.status == 412 and r2.problem() and
       read(now.json()) == read(r1.json()) and
       now.headers.get("etag") == r1.headers.get("etag"),
       "if_match_on_%s_first_writer_wins_second_gets_412" %
       path.split("/")[2], "%s\n%r\n%r\n%r" % (tag, r1, r2, now))
ok(api.req("GET", "/v1/domains/" + "a" * 3000).ctype.startswith(
    "application/problem+json"), "long_uri_answer_is_problem_json_not_html")
m = api.req("GET", "/v1/metrics").body
ok('billingd_api_requests_total{method="GET",route="none",code="4xx"}' in m
   and 'route="none"} ' not in m,
   "unrouted_requests_metric_has_method_and_code_labels",
   [ln for ln in m.splitlines() if 'route="none"' in ln])
ok(api.alive(), "server_unharmed_after_all")
done()
