#!/usr/bin/env python3
"""A small local server speaking the OpenAI HTTP protocol (chat
completions, embeddings) with scripted answers, plus the receivers the
notification and ingestion nodes need. Used by t/api/nodes_exec.t.

Usage: fake_services.py PORTFILE LOGFILE
PORTFILE gets "HTTPPORT SMTPPORT". Every request is appended to LOGFILE
as one JSON line {t, path, auth, body}; a mail as {path: "smtp", from,
to, body}. The first chat request is answered 429 with
Retry-After: 1, the first embeddings request 503 without one."""
import json
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

portfile, logfile = sys.argv[1], sys.argv[2]
seen = {"chat": 0, "emb": 0}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self, body):
        with open(logfile, "a") as f:
            f.write(json.dumps({"t": time.time(), "path": self.path,
                                "auth": self.headers.get("Authorization"),
                                "body": body}) + "\n")

    def do_GET(self):
        self.record(None)
        if self.path == "/data.json":
            return self.answer(200, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        self.answer(404, {"error": "no"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        self.record(body)
        if self.path == "/v1/chat/completions":
            seen["chat"] += 1
            if seen["chat"] == 1:
                return self.answer(429, {"error": {"message": "slow down"}},
                                   [("Retry-After", "1")])
            prompt = body["messages"][-1]["content"]
            if prompt.startswith("Classify"):
                text = "billing." if "refund" in prompt else "Other"
            else:
                text = "ECHO: " + prompt
            words = len(prompt.split())
            return self.answer(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": words, "completion_tokens": 2,
                          "total_tokens": words + 2}})
        if self.path == "/v1/embeddings":
            seen["emb"] += 1
            if seen["emb"] == 1:
                return self.answer(503, {"error": {"message": "busy"}})
            inputs = body["input"]
            data = [{"object": "embedding", "index": i,
                     "embedding": [float(len(t)), 1.0, 0.5]}
                    for i, t in reversed(list(enumerate(inputs)))]
            return self.answer(200, {"object": "list", "data": data, "model": body["model"],
                                     "usage": {"prompt_tokens": len(inputs),
                                               "total_tokens": len(inputs)}})
        if self.path == "/slack":
            return self.answer(200, "ok")
        if self.path == "/pd":
            return self.answer(202, {"status": "success", "message": "Event processed",
                                     "dedup_key": "dk-" + body.get("routing_key", "")})
        self.answer(404, {"error": "no"})


class Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for one client: EHLO, MAIL, RCPT, DATA, QUIT."""

    def handle(self):
        def say(line):
            self.wfile.write((line + "\r\n").encode())
        say("220 fake ESMTP")
        mail = {"path": "smtp", "from": None, "to": []}
        while True:
            line = self.rfile.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                return
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                say("250 fake")
            elif verb == "MAIL":
                mail["from"] = line.split(":", 1)[1].strip()
                say("250 ok")
            elif verb == "RCPT":
                mail["to"].append(line.split(":", 1)[1].strip())
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                data = b""
                while True:
                    l = self.rfile.readline()
                    if l in (b".\r\n", b".\n", b""):
                        break
                    data += l
                mail["body"] = data.decode(errors="replace")
                with open(logfile, "a") as f:
                    f.write(json.dumps(mail) + "\n")
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")


smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Smtp)
threading.Thread(target=smtp.serve_forever, daemon=True).start()
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write("%d %d" % (srv.server_address[1], smtp.server_address[1]))
import os
os.replace(portfile + ".tmp", portfile)
srv.serve_forever()
