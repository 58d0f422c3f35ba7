#!/usr/bin/env python3
"""A real SMTP server for tests (aiosmtpd): records every message.

usage: smtpd.py PORT OUTFILE -- one JSON line per message: from, to, data.
Prints "ready" once listening.
"""
import json
import sys
import time

from aiosmtpd.controller import Controller

port, out = int(sys.argv[1]), sys.argv[2]


class Record:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 Message accepted for delivery"


controller = Controller(Record(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
