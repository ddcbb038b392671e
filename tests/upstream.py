#!/usr/bin/env python3
"""upstream.py - a fragile HTTP upstream for the tests and the bench: it
falls over with two callers, and says so.

    upstream.py --log FILE --port-file FILE [--addr 127.0.0.1] [--port 0]
                [--delay-ms N] [--mode ok|hang|reset|redirect]
                [--location URL] [--cert FILE --key FILE]

Python 3 standard library only (http.server.ThreadingHTTPServer, one
thread per connection, HTTP/1.1 keep-alive).

Every request is "inside" from the moment its head has been read until
its answer is decided, or until its client has closed the connection.
Whenever two requests are inside at once, both answer 500 "overlap"
(the one that came second at once) and both are recorded with
"overlap": true. The answer's end is stamped before its last byte goes
out, so a client that starts its next call only once it has the whole
answer can never be taken for an overlap; a connection the client has
already closed (poll(2) POLLRDHUP, POLLHUP) is not inside any more.

Each request is one JSON line in the log, written when it ends, in that
order (the upstream's own): seq (arrival order), method, path, query
(null without a '?'), target_hex (the request target's bytes in hex),
headers ([name, value] in the order they came), body_len, body_sha256,
token (its X-Fence-Token, or null), start and end (CLOCK_MONOTONIC
seconds, comparable with serialcgi's work log), mode, status (what was
answered; null when nothing was), overlap, aborted (the client closed
the connection before an answer), conn (the connection's number: a
second request on one connection has the same), tls. A TLS handshake
that fails is one line {"event": "tls_error", "error": ..., "time": ...}.

The mode of a request is --mode, or a path segment that says otherwise:
  @delay=N     answer after N ms (else --delay-ms, default 0)
  @hang        never answer: wait until the client closes the connection
  @reset       send the head and part of the body (Content-Length says
               more), then reset the connection (SO_LINGER 0)
  @redirect    302 to --location (default: this upstream's /followed,
               so a client that follows it shows up in the log)
  @status=N    answer N instead of 200
  @bytes=N     answer a body of N bytes ("x"), not the JSON one
A delay or a hang ends early, recorded as aborted, when the client
closes the connection.

The answer (200): a JSON body {"seq", "method", "path", "query",
"body_sha256", "token"}, with the end-to-end field X-Upstream-Seq and,
for the tests of hop-by-hop fields on the way back, Connection:
X-Upstream-Hop, X-Upstream-Hop: 1 and Keep-Alive: timeout=5.

The port it listens on (useful with --port 0) is written to --port-file
once it accepts connections (written whole: a new file, renamed).
"""
import argparse
import hashlib
import itertools
import json
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GONE = select.POLLRDHUP | select.POLLHUP | select.POLLERR
HANG_MAX = 3600		# s: a hang ends by then, whatever happens

opts = None
lock = threading.Lock()	# inside, and the log's order
inside = {}		# seq -> Call
seqs = itertools.count(1)
conns = itertools.count(1)
log_file = None


def closed(sock, timeout_ms=0):
    """Has the client closed (or reset) the connection? Waits at most
    timeout_ms (None: for ever)."""
    p = select.poll()
    p.register(sock.fileno(), GONE)
    return any(ev & GONE for _, ev in p.poll(timeout_ms))


def write_log(record):
    log_file.write(json.dumps(record, separators=(",", ":")) + "\n")
    log_file.flush()


class Call:
    """One request inside the upstream."""

    def __init__(self, handler, seq, start):
        self.h = handler
        self.seq = seq
        self.start = start
        self.overlap = False
        self.ended = False
        self.rec = {}

    def end(self, status, aborted=False):
        """Take it out (the lock held); log it. False if it was out."""
        if self.ended:
            return False
        self.ended = True
        inside.pop(self.seq, None)
        self.rec.update(start=self.start, end=time.monotonic(),
                        status=status, overlap=self.overlap,
                        aborted=aborted)
        write_log(self.rec)
        return True


def enter(handler):
    """A request's head is in: it is inside now. Another one inside
    whose client has already gone is not."""
    with lock:
        for other in list(inside.values()):
            if closed(other.h.connection):
                other.end(None, aborted=True)
        call = Call(handler, next(seqs), time.monotonic())
        if inside:
            call.overlap = True
            for other in inside.values():
                other.overlap = True
        inside[call.seq] = call
        return call


def mode_of(path):
    """The request's mode and its argument, from its path or --mode."""
    mode, arg = opts.mode, None
    delay = opts.delay_ms
    status = 200
    size = None
    for seg in path.split("?", 1)[0].split("/"):
        if seg == "@hang" or seg == "@reset" or seg == "@redirect":
            mode = seg[1:]
        elif seg.startswith("@delay="):
            delay = int(seg[7:])
        elif seg.startswith("@status="):
            status = int(seg[8:])
        elif seg.startswith("@bytes="):
            size = int(seg[7:])
    if mode == "ok":
        arg = (delay, status, size)
    return mode, arg


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream.py"
    sys_version = ""

    def log_message(self, *args):
        pass

    def __getattr__(self, name):
        # Any method at all: do_GET, do_PATCH, do_BREW...
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def serve(self):
        call = enter(self)
        target = self.path
        path, sep, query = target.partition("?")
        body = self.read_body()
        digest = hashlib.sha256(body).hexdigest()
        token = self.headers.get("X-Fence-Token")
        mode, arg = mode_of(target)
        call.rec = {
            "seq": call.seq, "method": self.command, "path": path,
            "query": query if sep else None,
            "target_hex": target.encode("latin-1").hex(),
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_len": len(body), "body_sha256": digest,
            "token": token, "mode": mode, "conn": self.conn_no,
            "tls": opts.cert is not None,
        }
        if mode == "hang":
            if not self.wait(call, HANG_MAX * 1000):
                with lock:
                    call.end(None)
            self.close_connection = True
        elif mode == "reset":
            self.reset(call)
        elif mode == "redirect":
            self.answer(call, 302, b"moved\n", [("Location", self.location())])
        else:
            delay, status, size = arg
            if delay > 0 and self.wait(call, delay):
                return
            self.answer(call, status, b"x" * size if size is not None
                        else json.dumps({
                            "seq": call.seq, "method": self.command,
                            "path": path, "query": query if sep else None,
                            "body_sha256": digest,
                            "token": token}).encode() + b"\n")

    def wait(self, call, ms):
        """Wait ms, or until the client leaves: True if it left (the
        request is logged as aborted)."""
        if not closed(self.connection, ms):
            return False
        with lock:
            call.end(None, aborted=True)
        self.close_connection = True
        return True

    def location(self):
        if opts.location:
            return opts.location
        scheme = "https" if opts.cert else "http"
        return "%s://%s:%d/followed" % (scheme, opts.addr, self.server.port)

    def head(self, status, length, fields):
        lines = ["HTTP/1.1 %d %s" % (status, self.responses.get(
            status, ("Other",))[0]), "Content-Type: application/json",
            "Content-Length: %d" % length, "X-Upstream-Seq: %d" % self.seq]
        lines += ["%s: %s" % f for f in fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def answer(self, call, status, body, fields=()):
        hop = [("Connection", "X-Upstream-Hop"), ("X-Upstream-Hop", "1"),
               ("Keep-Alive", "timeout=5")]
        self.seq = call.seq
        ok = self.head(status, len(body), list(fields) + hop) + body
        no = b'{"error":"overlap"}\n'
        no = self.head(500, len(no), hop) + no
        with lock:
            if call.overlap:
                status = 500
            if not call.end(status):
                return	# the client left meanwhile
        data = no if status == 500 and call.overlap else ok
        if self.command == "HEAD":
            data = data[:data.index(b"\r\n\r\n") + 4]
        self.wfile.write(data)
        self.wfile.flush()

    def reset(self, call):
        self.seq = call.seq
        self.wfile.write(self.head(200, 65536, []) + b"x" * 1024)
        self.wfile.flush()
        # Give the part a moment to leave before the reset overtakes it.
        time.sleep(0.05)
        with lock:
            call.end(200, aborted=False)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def setup(self):
        super().setup()
        self.conn_no = next(conns)
        self.seq = 0


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # A client that resets its idle keep-alive connection (HAProxy
        # does, at its exit) is no error of ours.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def finish_request(self, request, client_address):
        # In the connection's own thread: a slow or failed handshake
        # holds up no other connection.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with lock:
                    write_log({"event": "tls_error", "error": str(e),
                               "time": time.monotonic()})
                return
        super().finish_request(request, client_address)


def main():
    global opts, log_file
    ap = argparse.ArgumentParser(description="a fragile upstream")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--mode", default="ok",
                    choices=["ok", "hang", "reset", "redirect"])
    ap.add_argument("--location")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    opts = ap.parse_args()
    log_file = open(opts.log, "a", encoding="utf-8")
    server = Server((opts.addr, opts.port), Handler)
    server.port = server.server_address[1]
    server.tls = None
    if opts.cert:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(opts.cert, opts.key)
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.port)
    os.rename(tmp, opts.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
