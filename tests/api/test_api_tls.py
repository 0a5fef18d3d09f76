#!/usr/bin/env python3
"""What an operator who turns on HTTPS notices: with api_tls_cert and
api_tls_key billingd serves the API over TLS (GnuTLS) with the configured
certificate, keys work as over HTTP, and plain HTTP on that port gets no
answer."""
import http.client
import os
import shutil
import ssl
import subprocess
import sys

from apilib import Setup, done, ok, workdir

if not shutil.which("openssl"):
    print("1..0 # SKIP openssl (to make a test certificate) not installed")
    sys.exit(0)
d = workdir()
crt, key = os.path.join(d, "api.crt"), os.path.join(d, "api.key")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key, "-out", crt, "-days", "2", "-subj",
                "/CN=127.0.0.1"], check=True, capture_output=True)


# Setup's readiness probe speaks plain HTTP: patch in a TLS client.
import apilib  # noqa: E402

ctx = ssl.create_default_context(cafile=crt)
ctx.check_hostname = False


class HttpsConn(http.client.HTTPSConnection):
    def __init__(self, host, port, timeout=20):
        super().__init__(host, port, timeout=timeout, context=ctx)


plain = http.client.HTTPConnection
apilib.http.client.HTTPConnection = HttpsConn
s = Setup(api_tls_cert=crt, api_tls_key=key)
r = s.api.req("GET", "/v1/domains", key=s.admin)
ok(r.status == 200 and len(r.json()["domains"]) >= 6,
   "https_serves_the_api_with_the_configured_certificate", r)
r = s.api.req("GET", "/v1/domains", key="bad.key")
ok(r.status == 401, "https_still_needs_a_key", r)
c = plain("127.0.0.1", s.port, timeout=5)
try:
    c.request("GET", "/v1/health")
    got = c.getresponse().status
except (OSError, http.client.HTTPException):
    got = None
ok(got is None or got >= 400, "plain_http_on_the_tls_port_gets_no_api",
   got)
done()
