#!/usr/bin/env python3
"""A local HTTP receiver for tests: records every request it is sent.

usage: receiver.py PORT OUTFILE
Each request becomes one JSON line in OUTFILE: path, headers, body, time.
A path that starts with /fail2 answers 500 to its first two requests and
200 after that; every other path answers 200. Prints "ready" once bound.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, out = int(sys.argv[1]), sys.argv[2]
hits = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            n = hits[self.path] = hits.get(self.path, 0) + 1
            with open(out, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                    "body": body.decode("utf-8", "replace"),
                                    "time": time.time()}) + "\n")
        code = 500 if self.path.startswith("/fail2") and n <= 2 else 200
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}' if code == 200 else b'{"error": "scripted"}')

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
