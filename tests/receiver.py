#!/usr/bin/env python3
"""receiver.py ADDR PORT LOG STATUSES [LOCATION]

A webhook receiver for the tests, from the standard library alone: it
answers each POST with the next status of STATUSES (comma-separated, the
last one repeats), a 3xx with Location: LOCATION, a 503 with
Retry-After: 2, and appends to LOG one
JSON line per connection accepted ({"connection": peer}), before any
request is read, and one per request ({"method", "path", "headers",
"body", "time"}), the body exactly as it came, the time on
CLOCK_MONOTONIC.
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

addr, port, log, statuses = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    [int(s) for s in sys.argv[4].split(",")]
location = sys.argv[5] if len(sys.argv) > 5 else None
served = 0


def note(record):
    with open(log, "a") as f:
        f.write(json.dumps(record) + "\n")


class Server(ThreadingHTTPServer):
    def get_request(self):
        conn, peer = super().get_request()
        note({"connection": peer[0]})
        return conn, peer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global served
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n).decode("utf-8")
        note({"method": "POST", "path": self.path,
              "headers": {k.lower(): v for k, v in self.headers.items()},
              "body": body, "time": time.monotonic()})
        status = statuses[min(served, len(statuses) - 1)]
        served += 1
        self.send_response(status)
        if location and 300 <= status < 400:
            self.send_header("Location", location)
        if status == 503:
            self.send_header("Retry-After", "2")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


Server((addr, port), Handler).serve_forever()
