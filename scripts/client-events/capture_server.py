#!/usr/bin/env python3
"""Local stand-in for Sentry's ingest endpoint, used by capture-client-events.sh.

What: an HTTP server on 127.0.0.1 that accepts whatever real Sentry SDKs send
(envelopes on /api/<id>/envelope/, legacy JSON on /api/<id>/store/), unpacks
each envelope and writes every event-like item payload (`event`,
`transaction`, `feedback`) as pretty JSON into OUT_DIR. `span` items (span
streaming, e.g. sentry-python 3.x) go to OUT_DIR/spans/ so they do not mix
with events. Everything else (sessions, client reports, ...) is ignored.

Why: records what real clients send (re-serialised as pretty JSON with
sorted keys), without any network.

How: the DSN's path prefix names the output file. A client configured with
DSN http://key@127.0.0.1:PORT/<client>-<version>-<scenario>/1 posts to
/<client>-<version>-<scenario>/api/1/envelope/ and its items are written to
OUT_DIR/<client>-<version>-<scenario>[-<type>][-<n>].json: "-<type>" is added
unless the item type equals the scenario or is a plain `event` in a scenario
not named after another type (so the feedback scenario yields
...-feedback.json for the feedback and ...-feedback-event.json for the error
it refers to); "-<n>" (2, 3, ...) only for repeats.

CORS: browser SDKs post from another origin (the page's), so every answer
carries the CORS headers Sentry's ingest sends (any origin, the x-sentry-*
response headers exposed) and OPTIONS preflights are answered with 200 and
the requested method/headers allowed.

Usage: capture_server.py OUT_DIR PORT_FILE -- binds an ephemeral port on
127.0.0.1, writes it to PORT_FILE, serves until killed. A request it cannot parse is
logged to stderr as "capture-server: ERROR" and answered with 400; the
driver script fails on such lines and checks that every scenario produced
a file.
"""
import gzip
import json
import os
import re
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENT_TYPES = {"event", "transaction", "feedback"}
PATH_RE = re.compile(r"^/(?P<name>[A-Za-z0-9._-]+)/api/\d+/(?P<kind>envelope|store)/?(\?.*)?$")

OUT_DIR = sys.argv[1]
LOCK = threading.Lock()


def decode_body(headers, body):
    enc = (headers.get("Content-Encoding") or "").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "deflate":
        return zlib.decompress(body)
    if enc == "br":
        import brotli  # only if the client picked brotli; fail loudly otherwise

        return brotli.decompress(body)
    raise ValueError(f"unsupported Content-Encoding {enc!r}")


def parse_envelope(data):
    """Yield (item_header, payload_bytes) for each item of an envelope."""
    pos = data.find(b"\n")
    if pos < 0:
        return  # header only
    pos += 1
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            end = len(data)
        line = data[pos:end].strip()
        pos = end + 1
        if not line:
            continue
        header = json.loads(line)
        length = header.get("length")
        if length is not None:
            payload = data[pos : pos + length]
            pos += length + 1  # skip the payload's trailing newline, if any
        else:
            end = data.find(b"\n", pos)
            if end < 0:
                end = len(data)
            payload = data[pos:end]
            pos = end + 1
        yield header, payload


def file_stem(name, item_type):
    scenario = name.rsplit("-", 1)[-1]
    if item_type == scenario or (item_type == "event" and scenario not in EVENT_TYPES):
        return name
    return f"{name}-{item_type}"


def write_item(name, subdir, payload):
    doc = json.loads(payload)
    target_dir = os.path.join(OUT_DIR, subdir) if subdir else OUT_DIR
    with LOCK:
        os.makedirs(target_dir, exist_ok=True)
        n = 1
        while True:
            suffix = "" if n == 1 else f"-{n}"
            path = os.path.join(target_dir, f"{name}{suffix}.json")
            if not os.path.exists(path):
                break
            n += 1
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False, sort_keys=True)
            f.write("\n")
    print(f"capture-server: wrote {path}", file=sys.stderr)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # clients keep connections alive

    def send_cors_headers(self):
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Vary", "Origin")
        self.send_header("Access-Control-Expose-Headers", "x-sentry-error, x-sentry-rate-limits, retry-after")

    def do_OPTIONS(self):
        # CORS preflight of a browser SDK (e.g. for a non-simple content type).
        self.send_response(200)
        self.send_cors_headers()
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        requested = self.headers.get("Access-Control-Request-Headers")
        self.send_header("Access-Control-Allow-Headers", requested or "content-type, x-sentry-auth")
        self.send_header("Access-Control-Max-Age", "3600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            # @sentry/node streams its request bodies.
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        length = self.headers.get("Content-Length")
        if length is None:
            raise ValueError("request without Content-Length or chunked body")
        return self.rfile.read(int(length))

    def do_POST(self):
        try:
            m = PATH_RE.match(self.path)
            if not m:
                raise ValueError(f"unexpected path {self.path!r}")
            body = self.read_body()
            data = decode_body(self.headers, body)
            name = m.group("name")
            if m.group("kind") == "store":
                write_item(name, None, data)  # legacy store: always one event
            else:
                for header, payload in parse_envelope(data):
                    ty = header.get("type")
                    if ty in EVENT_TYPES:
                        write_item(file_stem(name, ty), None, payload)
                    elif ty == "span":
                        write_item(name, "spans", payload)
        except Exception as e:  # noqa: BLE001 - report every failure loudly
            print(f"capture-server: ERROR {self.path}: {e!r}", file=sys.stderr)
            self.send_response(400)
            self.send_cors_headers()
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        out = b"{}"
        self.send_response(200)
        self.send_cors_headers()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *args):
        pass  # keep the driver's output readable; writes are logged above


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[2], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
