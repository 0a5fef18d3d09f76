#!/usr/bin/env python3
"""What a client generator and an operator notice about the API surface:
every route in docs/openapi.yaml is answered (not "no such resource", not
"method not allowed"), every route billingd serves is in the document, the
document is served as is, and a path or method outside it gets a 404/405
problem+json."""
import os
import re
import subprocess

from apilib import BIN, ROOT, Setup, done, ok

DOC = os.path.join(ROOT, "docs", "openapi.yaml")


def openapi_routes():
    """(METHOD, path) pairs, parsed crudely: a path is a two-space
    indented key starting with /v1, a method a four-space indented key."""
    routes, cur = set(), None
    for line in open(DOC):
        m = re.match(r"^  (/v1\S*):\s*$", line)
        if m:
            cur = m.group(1)
            continue
        if re.match(r"^\S", line):
            cur = None
        m = re.match(r"^    (get|put|post|patch|delete):", line)
        if m and cur:
            routes.add((m.group(1).upper(), cur))
    return routes


doc = openapi_routes()
served = set(tuple(l.split(" ", 1)) for l in subprocess.run(
    [os.path.join(BIN, "billingd"), "--list-routes"], capture_output=True,
    text=True, check=True).stdout.splitlines())
ok(len(doc) >= 23, "openapi_documents_every_issue_7_route", sorted(doc))
ok(doc == served, "served_routes_equal_openapi_paths",
   "only served: %s\nonly documented: %s" % (sorted(served - doc),
                                            sorted(doc - served)))

s = Setup()
api, key = s.api, s.admin
r = api.req("GET", "/v1/openapi.yaml")
ok(r.status == 200 and r.body == open(DOC).read(),
   "openapi_document_served_byte_for_byte", r.status)

# Every documented route answers with something other than a routing error.
fill = {"{name}": "dom-00004", "{id}": "acme"}
bodies = {"/v1/domains/{name}/shares": {"cpu_weight": 300},
          "/v1/domains/{name}/owner": {"customer": "acme"},
          "/v1/customers": {"id": "initech", "name": "Initech"},
          "/v1/customers/{id}": {"name": "Acme Ltd"},
          "/v1/domains": {"name": "routes-web", "image": "cpu"}}
order = sorted(doc, key=lambda r: (r[0] == "DELETE", r[1]))
bad = []
for method, path in order:
    url = path
    for k, v in fill.items():
        url = url.replace(k, v)
    if path.endswith("/usage"):
        url += "?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
    if path == "/v1/invoices":
        url += "?month=2026-01"
    body = bodies.get(path) if method in ("PUT", "POST", "PATCH") else None
    if method in ("PUT", "POST", "PATCH") and body is None:
        body = {}
    r = api.req(method, url, body, key=key)
    p = r.problem()
    if p and p["type"].endswith((":method-not-allowed",)) or \
            (p and p["detail"].startswith("no such resource")):
        bad.append("%s %s -> %r" % (method, url, r))
ok(not bad, "every_documented_route_is_answered", "\n".join(bad))

r = api.req("GET", "/v1/nothing-here", key=key)
ok(r.status == 404 and r.problem(), "unknown_path_is_404_problem", r)
r = api.req("DELETE", "/v1/plans", key=key)
ok(r.status == 405 and r.problem() and
   set(r.headers.get("allow", "").split(", ")) == {"GET", "PUT"},
   "wrong_method_is_405_with_allow", "%r %s" % (r, r.headers))
r = api.req("GET", "/v1/domains/", key=key)
ok(r.status == 404 and r.problem(), "empty_name_segment_is_404", r)
ok(api.alive(), "server_still_answers")
done()
