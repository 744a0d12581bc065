#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for velo's S3 tests (stdlib only).

    python3 fault_proxy.py UPSTREAM PLAN LOG

Listens on 127.0.0.1, port 0, and prints the port it got as its first line of stdout. Every request from the
client (keep-alive connections, as async-http-client reuses them) is read whole and forwarded, byte for byte
(the Host header too: the client signed it), on a fresh connection to UPSTREAM (`http://127.0.0.1:PORT`); the
answer is relayed with its status, headers and body. It exits when its stdin closes (the test process is gone).

Faults come from PLAN, a JSON file re-read for every request, so a test rewrites it between steps:

    {"generation": 3, "rules": [
        {"method": "PUT", "path_contains": "partNumber=2", "action": "reset_mid_body", "times": 2}, ...]}

(a bare list of rules is generation 0). A request takes the first rule that matches it and is not spent; a rule
fires `times` times (default 1), after letting `after` matching requests through (default 0). The counts are
the proxy's, by rule index, and start again when the generation changes. Matching, all optional:
`method`, `path_contains` (in the request target, query included), `path_excludes`, `header` (a header the
request has, e.g. "range"). Actions:

    status_500, status_503   an S3 XML error (InternalError, ServiceUnavailable) instead of the answer
    slowdown                 503 with the XML error code SlowDown
    stall                    the request is read, then nothing is said for `seconds` (default 30), then close
    truncate_body            the real headers (real Content-Length) and half the body, then close; an answer
                             without a body has half its head sent
    reset_mid_body           a request with a body: half of it is read, then the connection is reset (RST);
                             otherwise the real headers and half the body (half the head), then reset
    reset_before_response    the request is read, then the connection is reset without a word
    ignore_precondition      forwarded; a 412 (Precondition Failed) answer becomes a bare 200, as from a server
                             that ignores If-None-Match (it does not overwrite: the object stays the other's)
    not_found                a 404 without asking the server

With `"forward": true`, status_*, slowdown and reset_before_response forward the request first (the server does
it, its answer is lost or replaced), and stall forwards it and never answers.

LOG gets a line per request: `METHOD<TAB>TARGET<TAB>ACTION<TAB>STATUS<TAB>TIME` (ACTION `pass` when no rule
fired; STATUS the upstream's status, or `-` when it was not asked; TIME when it was answered, Unix seconds).
"""

import http.client
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time

UPSTREAM, PLAN, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
_upstream = UPSTREAM.split("://", 1)[-1].rstrip("/")
UPSTREAM_HOST, UPSTREAM_PORT = _upstream.rsplit(":", 1)[0], int(_upstream.rsplit(":", 1)[1])

lock = threading.Lock()
state = {"generation": None, "counts": {}}


def read_plan():
    try:
        with open(PLAN, "rb") as f:
            plan = json.loads(f.read() or b"[]")
    except (OSError, ValueError):
        return None, []
    if isinstance(plan, list):
        return 0, plan
    return plan.get("generation", 0), plan.get("rules", [])


def choose(method, target, headers):
    """The rule that fires for this request (counted), or None."""
    generation, rules = read_plan()
    with lock:
        if generation != state["generation"]:
            state["generation"] = generation
            state["counts"] = {}
        for index, rule in enumerate(rules):
            if rule.get("method") and rule["method"].upper() != method:
                continue
            if rule.get("path_contains") and rule["path_contains"] not in target:
                continue
            if rule.get("path_excludes") and rule["path_excludes"] in target:
                continue
            if rule.get("header") and rule["header"].lower() not in headers:
                continue
            seen = state["counts"].get(index, 0)
            state["counts"][index] = seen + 1
            after = int(rule.get("after", 0))
            if seen < after:
                continue
            if seen - after >= int(rule.get("times", 1)):
                continue
            return rule
    return None


def log(method, target, action, status):
    with lock:
        with open(LOG, "a") as f:
            f.write(f"{method}\t{target}\t{action}\t{status}\t{time.time():.3f}\n")


def error_body(code, message):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><Resource></Resource><RequestId>fault-proxy</RequestId></Error>"
    ).encode()


class ClientGone(Exception):
    pass


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.request.makefile("rb")

    def reset(self):
        """Closes the client's connection with a RST (SO_LINGER 0)."""
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()
        except OSError:
            pass
        self.request.close()

    def close(self):
        try:
            self.request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            self.rfile.close()
        except OSError:
            pass
        self.request.close()

    def send(self, data):
        self.request.sendall(data)

    def handle(self):
        try:
            while self.one():
                pass
        except (ClientGone, ConnectionError, OSError):
            pass
        try:
            self.request.close()
        except OSError:
            pass

    def read_head(self):
        """The request line and headers: (method, target, version, [(name, value)]), or None at EOF."""
        line = self.rfile.readline(65537)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(65537)
        if not line:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise ClientGone()
        headers = []
        while True:
            h = self.rfile.readline(65537)
            if not h:
                raise ClientGone()
            if h in (b"\r\n", b"\n"):
                break
            name, _, value = h.decode("latin-1").rstrip("\r\n").partition(":")
            headers.append((name.strip(), value.strip()))
        return parts[0], parts[1], parts[2], headers

    def read_body(self, headers, limit=None):
        lookup = {k.lower(): v for k, v in headers}
        if "chunked" in lookup.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(lookup.get("content-length", "0") or "0")
        want = length if limit is None else min(length, limit)
        body = self.rfile.read(want) if want else b""
        if len(body) < want:
            raise ClientGone()
        return body

    def forward(self, method, target, headers, body):
        """The upstream's answer: (status, reason, [(name, value)], body)."""
        conn = http.client.HTTPConnection(UPSTREAM_HOST, UPSTREAM_PORT, timeout=120)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            sent_length = False
            for name, value in headers:
                low = name.lower()
                if low in ("transfer-encoding", "connection", "keep-alive", "proxy-connection", "expect"):
                    continue
                if low == "content-length":
                    sent_length = True
                    value = str(len(body))
                conn.putheader(name, value)
            if body and not sent_length:
                conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body if body else None)
            response = conn.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        finally:
            conn.close()

    def head_bytes(self, status, reason, headers, body, method, keep_length):
        lines = [f"HTTP/1.1 {status} {reason}"]
        has_length = False
        for name, value in headers:
            low = name.lower()
            if low in ("transfer-encoding", "connection", "keep-alive"):
                continue
            if low == "content-length":
                if not keep_length:
                    value = str(len(body))
                has_length = True
            lines.append(f"{name}: {value}")
        if not has_length and method != "HEAD" and status not in (204, 304):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def one(self):
        request = self.read_head()
        if request is None:
            return False
        method, target, version, headers = request
        lookup = {k.lower(): v for k, v in headers}
        rule = choose(method, target, lookup)
        action = rule.get("action", "pass") if rule else "pass"
        declared = int(lookup.get("content-length", "0") or "0")
        if action == "reset_mid_body" and declared > 0:
            self.read_body(headers, limit=declared // 2)
            log(method, target, action, "-")
            self.reset()
            return False
        body = self.read_body(headers)
        forward_first = bool(rule and rule.get("forward"))
        if action in ("status_500", "status_503", "slowdown"):
            status = "-"
            if forward_first:
                status = self.forward(method, target, headers, body)[0]
            code, reason, message = {
                "status_500": (500, "Internal Server Error", ("InternalError", "We encountered an internal error.")),
                "status_503": (503, "Service Unavailable", ("ServiceUnavailable", "Please reduce your request rate.")),
                "slowdown": (503, "Slow Down", ("SlowDown", "Please reduce your request rate.")),
            }[action]
            payload = error_body(*message)
            log(method, target, action, status)
            self.send(
                self.head_bytes(code, reason, [("Content-Type", "application/xml")], payload, method, False)
                + (b"" if method == "HEAD" else payload)
            )
            return True
        if action == "not_found":
            log(method, target, action, "-")
            payload = b"" if method == "HEAD" else error_body("NoSuchKey", "The specified key does not exist.")
            self.send(self.head_bytes(404, "Not Found", [("Content-Type", "application/xml")], payload, method, False) + payload)
            return True
        if action == "ignore_precondition":
            status, reason, response_headers, payload = self.forward(method, target, headers, body)
            log(method, target, action, status)
            if status == 412:
                self.send(self.head_bytes(200, "OK", [("ETag", '"fault-proxy"')], b"", method, False))
            else:
                self.send(self.head_bytes(status, reason, response_headers, payload, method, False) + payload)
            return True
        if action == "reset_before_response":
            status = self.forward(method, target, headers, body)[0] if forward_first else "-"
            log(method, target, action, status)
            self.reset()
            return False
        if action == "stall":
            status = self.forward(method, target, headers, body)[0] if forward_first else "-"
            log(method, target, action, status)
            deadline = time.monotonic() + float(rule.get("seconds", 30))
            while time.monotonic() < deadline:
                time.sleep(0.1)
            self.close()
            return False
        status, reason, response_headers, payload = self.forward(method, target, headers, body)
        keep_length = method == "HEAD"
        head = self.head_bytes(status, reason, response_headers, payload, method, keep_length)
        sends_body = method != "HEAD" and status not in (204, 304)
        if action in ("truncate_body", "reset_mid_body"):
            log(method, target, action, status)
            if sends_body and payload:
                self.send(head + payload[: len(payload) // 2])
            else:
                self.send(head[: len(head) // 2])
            if action == "truncate_body":
                self.close()
            else:
                self.reset()
            return False
        log(method, target, action, status)
        self.send(head + (payload if sends_body else b""))
        return lookup.get("connection", "").lower() != "close" and version != "HTTP/1.0"


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def watch_stdin():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
