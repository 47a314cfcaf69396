"""The smallest Sentry upstream a processing relay needs for `scripts/bench-processing.sh`.

    stub_upstream.py PORT

A processing relay runs in managed mode: it registers with its upstream and processes nothing
until the upstream sent a global config (relay-protocol.md §5.6). Its project configs come from
Redis in the benchmark, so the stub only answers

* `POST /api/0/relays/register/challenge/` and `/response/` (signatures are not checked: this is
  a load-test stand-in, not a protocol test; `tests/integration/fixtures/upstream.py` is that),
* `POST /api/0/relays/projectconfigs/?version=3` with `configs: {}` and, when asked, a global
  config. A request that asks for project keys means the relay missed Redis; they are counted.
* `GET /__stats`: `{"project_config_requests": N, "requested_keys": [...], "other_requests": N}`
  for the benchmark script's sanity check,
* everything else with `200 {}` (counted as `other_requests`).

Standard library only; one thread per connection.
"""

import http.server
import json
import sys
import threading
import uuid

GLOBAL_CONFIG = {
    "measurements": {
        "builtinMeasurements": [
            {"name": name, "unit": unit}
            for name, unit in [("app_start_cold", "millisecond"), ("app_start_warm", "millisecond"),
                               ("cls", "none"), ("fcp", "millisecond"), ("fid", "millisecond"),
                               ("fp", "millisecond"), ("frames_frozen", "none"), ("frames_slow", "none"),
                               ("frames_total", "none"), ("inp", "millisecond"), ("lcp", "millisecond"),
                               ("stall_count", "none"), ("stall_longest_time", "millisecond"),
                               ("stall_total_time", "millisecond"), ("ttfb", "millisecond"),
                               ("ttfb.requesttime", "millisecond")]
        ],
        "maxCustomMeasurements": 10,
    },
    "filters": {"version": 1, "filters": []},
    "options": {},
}

_lock = threading.Lock()
_stats = {"project_config_requests": 0, "requested_keys": [], "other_requests": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def _answer(self, value):
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - name fixed by the base class
        body = self._body()
        path = self.path.split("?", 1)[0]
        if path == "/api/0/relays/register/challenge/":
            self._answer({"relay_id": body.get("relay_id"), "token": "token-" + uuid.uuid4().hex})
        elif path == "/api/0/relays/register/response/":
            self._answer({"relay_id": body.get("relay_id")})
        elif path == "/api/0/relays/projectconfigs/":
            keys = body.get("publicKeys") or []
            answer = {"configs": {}}
            if keys:
                with _lock:
                    _stats["project_config_requests"] += 1
                    _stats["requested_keys"].extend(k for k in keys if k not in _stats["requested_keys"])
            if body.get("global"):
                answer["global"] = GLOBAL_CONFIG
                answer["globalStatus"] = "ready"
            self._answer(answer)
        else:
            with _lock:
                _stats["other_requests"] += 1
            self._answer({})

    def do_GET(self):  # noqa: N802 - name fixed by the base class
        if self.path == "/__stats":
            with _lock:
                self._answer(dict(_stats))
            return
        with _lock:
            _stats["other_requests"] += 1
        self._answer({})


def main():
    port = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
