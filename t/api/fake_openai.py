#!/usr/bin/env python3
"""A local server speaking OpenAI's chat-completions protocol, whole and
streamed, with answers the test scripts. Used by t/api/aistudio.t.

Usage: fake_openai.py PORTFILE LOGFILE
POST /script with {"answers": [{"content": "...", "chunks": N,
"delay": seconds}, ...]} queues answers; each chat request takes the
next one (none left: an advisory answer). A streamed answer is sent as N
content deltas, delay seconds apart; a whole one after "wait" seconds.
Every chat request is appended to
LOGFILE as a JSON line {t, auth, body}; a streamed answer the client
stopped reading is logged as {aborted: true, sent: K}."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

portfile, logfile = sys.argv[1], sys.argv[2]
queue = []
lock = threading.Lock()


def log(obj):
    with lock, open(logfile, "a") as f:
        f.write(json.dumps(obj) + "\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.path == "/script":
            with lock:
                queue.extend(body["answers"])
            return self.send_json(200, {"queued": len(queue)})
        if self.path != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": "no such path"}})
        log({"t": time.time(), "auth": self.headers.get("Authorization"), "body": body})
        with lock:
            a = queue.pop(0) if queue else {
                "content": json.dumps({"response": "Nothing scripted.", "flow": None})}
        if a.get("status"):
            return self.send_json(a["status"], {"error": {"message": "scripted failure"}})
        if not body.get("stream"):
            time.sleep(a.get("wait", 0))
            return self.send_json(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": a["content"]}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        text, n = a["content"], max(1, a.get("chunks", 4))
        size = -(-len(text) // n)
        sent = 0
        try:
            for i in range(0, len(text), size):
                ev = {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                      "choices": [{"index": 0, "delta": {"content": text[i:i + size]}}]}
                self.wfile.write(b"data: " + json.dumps(ev).encode() + b"\n\n")
                self.wfile.flush()
                sent += 1
                time.sleep(a.get("delay", 0.05))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            log({"aborted": True, "sent": sent})
            return
        self.close_connection = True


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
