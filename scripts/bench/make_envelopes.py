"""Writes the load bodies of the processing benchmark (`scripts/bench-processing.sh`).

    make_envelopes.py error        > error.envelope        # 6,613 bytes
    make_envelopes.py transaction  > transaction.envelope  # about 7.6 KB, 10 spans

`error` is byte for byte the envelope of the edge benchmark (`../shared/bench/make_envelope.py`),
so edge and processing figures are for the same body. Its timestamps are fixed in 2023; relay
corrects them (clock drift from `sent_at`) and still produces the event.

`transaction` is what a Python SDK sends for a typical web request: a `transaction` item with a
trace context, request and SDK data, and 10 child spans (middleware, database queries, a cache
lookup, an outgoing HTTP call, template rendering). Its timestamps are "now" when the script
runs, so the relay's age limits never drop it while the benchmark runs.
"""

import json
import sys
import time
import uuid


def error_envelope() -> str:
    event_id = uuid.UUID(int=0x2A).hex
    frames = [
        {"filename": f"app/module_{i}.py", "function": f"handler_{i}", "lineno": 10 + i,
         "module": f"app.module_{i}", "in_app": i % 2 == 0,
         "context_line": f"    result = compute_{i}(payload)",
         "pre_context": ["def f():", "    payload = load()"], "post_context": ["    return result"],
         "vars": {"payload": "{'user': 'jane@example.com', 'password': 'hunter2'}", "i": i}}
        for i in range(12)
    ]
    event = {
        "event_id": event_id,
        "timestamp": 1700000000.0,
        "platform": "python",
        "level": "error",
        "logger": "app.worker",
        "release": "backend@1.4.2",
        "environment": "production",
        "server_name": "web-42",
        "message": "Unhandled exception while processing order 1234 for jane@example.com",
        "exception": {"values": [{"type": "ValueError", "value": "invalid literal for int() with base 10: 'abc'",
                                  "module": "builtins", "stacktrace": {"frames": frames},
                                  "mechanism": {"type": "generic", "handled": False}}]},
        "breadcrumbs": {"values": [{"timestamp": 1699999990.0 + i, "category": "http", "type": "http",
                                    "data": {"url": f"https://api.example.com/v1/items/{i}?token=abc{i}",
                                             "method": "GET", "status_code": 200}} for i in range(10)]},
        "tags": {"region": "eu-west-1", "customer": "acme", "shard": "7"},
        "user": {"id": "42", "email": "jane@example.com", "ip_address": "203.0.113.7"},
        "request": {"url": "https://shop.example.com/checkout", "method": "POST",
                    "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
                                "Authorization": "Bearer abcdef123456", "Cookie": "sessionid=xyz"},
                    "data": {"card": "4111 1111 1111 1111", "amount": 12}},
        "contexts": {"os": {"name": "Linux", "version": "6.1"}, "runtime": {"name": "CPython", "version": "3.12.1"}},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    }
    payload = json.dumps(event, separators=(",", ":"))
    header = json.dumps({"event_id": event_id, "sent_at": "2023-11-14T22:13:20Z"})
    item = json.dumps({"type": "event", "length": len(payload.encode())})
    return f"{header}\n{item}\n{payload}\n"


# (op, description, start offset ms, duration ms, parent index or None for the root, data)
SPANS = [
    ("middleware.django", "django.middleware.security.SecurityMiddleware", 1, 180, None, {}),
    ("middleware.django", "django.contrib.sessions.middleware.SessionMiddleware", 2, 176, 0, {}),
    ("db", "SELECT \"django_session\".\"session_key\", \"django_session\".\"session_data\", "
           "\"django_session\".\"expire_date\" FROM \"django_session\" WHERE "
           "(\"django_session\".\"expire_date\" > %s AND \"django_session\".\"session_key\" = %s) LIMIT 21",
     4, 3, 1, {"db.system": "postgresql", "db.name": "shop", "server.address": "db-1.internal"}),
    ("db", "SELECT \"auth_user\".\"id\", \"auth_user\".\"password\", \"auth_user\".\"last_login\", "
           "\"auth_user\".\"username\", \"auth_user\".\"email\" FROM \"auth_user\" WHERE \"auth_user\".\"id\" = %s LIMIT 21",
     8, 2, 1, {"db.system": "postgresql", "db.name": "shop", "server.address": "db-1.internal"}),
    ("cache.get", "cart:user:42", 11, 1, 1, {"cache.hit": True, "cache.key": ["cart:user:42"],
                                            "network.peer.address": "redis-1.internal"}),
    ("function", "shop.views.checkout", 13, 150, 1, {"code.filepath": "shop/views.py", "code.lineno": 88}),
    ("db", "SELECT \"shop_order\".\"id\", \"shop_order\".\"user_id\", \"shop_order\".\"total\" "
           "FROM \"shop_order\" WHERE \"shop_order\".\"user_id\" = %s ORDER BY \"shop_order\".\"created\" DESC",
     15, 12, 5, {"db.system": "postgresql", "db.name": "shop", "server.address": "db-1.internal"}),
    ("http.client", "POST https://payments.example.com/v2/charges", 30, 95, 5,
     {"http.request.method": "POST", "http.response.status_code": 201, "url": "https://payments.example.com/v2/charges",
      "http.fragment": "", "http.query": ""}),
    ("db", "INSERT INTO \"shop_order\" (\"user_id\", \"total\", \"created\") VALUES (%s, %s, %s) RETURNING \"shop_order\".\"id\"",
     128, 6, 5, {"db.system": "postgresql", "db.name": "shop", "server.address": "db-1.internal"}),
    ("template.render", "shop/checkout_done.html", 140, 20, 5, {}),
]


def transaction_envelope(now: float) -> str:
    event_id = uuid.uuid4().hex
    trace_id = uuid.uuid4().hex
    root_span_id = uuid.uuid4().hex[:16]
    start = now - 0.3
    span_ids = [uuid.uuid4().hex[:16] for _ in SPANS]
    spans = []
    for index, (op, description, offset_ms, duration_ms, parent, data) in enumerate(SPANS):
        span_start = start + offset_ms / 1000.0
        spans.append({
            "trace_id": trace_id,
            "span_id": span_ids[index],
            "parent_span_id": root_span_id if parent is None else span_ids[parent],
            "same_process_as_parent": True,
            "op": op,
            "description": description,
            "start_timestamp": round(span_start, 6),
            "timestamp": round(span_start + duration_ms / 1000.0, 6),
            "status": "ok",
            "origin": "auto.http.django" if op.startswith("middleware") else "auto.db.django" if op == "db" else "manual",
            "data": dict(data, **{"thread.id": "140213417219904", "thread.name": "uWSGIWorker1Core0"}),
        })
    event = {
        "type": "transaction",
        "event_id": event_id,
        "platform": "python",
        "transaction": "/shop/checkout/",
        "transaction_info": {"source": "route"},
        "start_timestamp": round(start, 6),
        "timestamp": round(start + 0.2, 6),
        "release": "backend@1.4.2",
        "environment": "production",
        "server_name": "web-42",
        "level": "info",
        "contexts": {
            "trace": {"trace_id": trace_id, "span_id": root_span_id, "op": "http.server", "status": "ok",
                      "origin": "auto.http.django", "data": {"thread.id": "140213417219904"}},
            "runtime": {"name": "CPython", "version": "3.12.1", "build": "3.12.1 (main, Dec 19 2023) [GCC 12.2.0]"},
            "os": {"name": "Linux", "version": "6.1"},
        },
        "tags": {"region": "eu-west-1", "customer": "acme", "shard": "7"},
        "user": {"id": "42", "email": "jane@example.com", "ip_address": "203.0.113.7"},
        "request": {"url": "https://shop.example.com/shop/checkout/", "method": "POST",
                    "query_string": "step=confirm",
                    "headers": {"Host": "shop.example.com",
                                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
                                "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en-GB,en;q=0.9",
                                "Content-Type": "application/x-www-form-urlencoded", "Cookie": "sessionid=xyz; csrftoken=abc"},
                    "env": {"SERVER_NAME": "web-42", "SERVER_PORT": "8000"}},
        "modules": {"django": "5.0.1", "psycopg2": "2.9.9", "redis": "5.0.1", "requests": "2.31.0", "sentry-sdk": "2.75.0"},
        "extra": {"sys.argv": ["/usr/local/bin/uwsgi", "--ini", "/etc/uwsgi/shop.ini"]},
        "sdk": {"name": "sentry.python.django", "version": "2.75.0",
                "integrations": ["django", "redis", "stdlib", "threading", "logging", "excepthook", "dedupe", "atexit", "modules", "argv"],
                "packages": [{"name": "pypi:sentry-sdk", "version": "2.75.0"}]},
        "spans": spans,
        "measurements": {},
        "breadcrumbs": {"values": [{"timestamp": round(start + 0.01 * i, 6), "category": "query", "type": "default",
                                    "message": "SELECT ... FROM shop_order WHERE id = %s", "data": {}} for i in range(3)]},
    }
    payload = json.dumps(event, separators=(",", ":"))
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + "Z"
    header = json.dumps({
        "event_id": event_id,
        "sent_at": sent_at,
        "sdk": {"name": "sentry.python.django", "version": "2.75.0"},
        "trace": {"trace_id": trace_id, "environment": "production", "release": "backend@1.4.2",
                  "public_key": "31a5a894b4524f74a9a8d0e27e21ba91", "transaction": "/shop/checkout/",
                  "sample_rate": "1.0", "sampled": "true"},
    }, separators=(",", ":"))
    item = json.dumps({"type": "transaction", "length": len(payload.encode()), "content_type": "application/json"},
                      separators=(",", ":"))
    return f"{header}\n{item}\n{payload}\n"


def main() -> int:
    kinds = {"error": lambda: error_envelope(), "transaction": lambda: transaction_envelope(time.time())}
    if len(sys.argv) != 2 or sys.argv[1] not in kinds:
        sys.stderr.write("usage: make_envelopes.py error|transaction > FILE\n")
        return 2
    sys.stdout.write(kinds[sys.argv[1]]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
