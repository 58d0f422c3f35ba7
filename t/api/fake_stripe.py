#!/usr/bin/env python3
"""A local stand-in for Stripe's HTTP API, for t/api/billing.t: Checkout
and Billing Portal sessions. Every request is appended to LOGFILE as one
JSON line {path, auth, idempotency_key, form}. A checkout of the price
"price_refused" is answered 400 with a Stripe error object.

Usage: fake_stripe.py PORTFILE LOGFILE"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

portfile, logfile = sys.argv[1], sys.argv[2]


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode()
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        with open(logfile, "a") as f:
            f.write(json.dumps({"path": self.path,
                                "auth": self.headers.get("Authorization"),
                                "idempotency_key": self.headers.get("Idempotency-Key"),
                                "form": form}) + "\n")
        if self.path == "/v1/checkout/sessions":
            if form.get("line_items[0][price]") == "price_refused":
                return self.answer(400, {"error": {
                    "type": "invalid_request_error",
                    "message": "No such price: 'price_refused'"}})
            return self.answer(200, {"id": "cs_test_1", "object": "checkout.session",
                                     "url": "https://checkout.stripe.test/c/cs_test_1",
                                     "expires_at": int(time.time()) + 86400})
        if self.path == "/v1/billing_portal/sessions":
            return self.answer(200, {"id": "bps_test_1",
                                     "url": "https://billing.stripe.test/p/bps_test_1"})
        self.answer(404, {"error": {"message": "Unrecognized request URL"}})


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
