#!/usr/bin/env python3
"""Tiny "app" that uses sentry-python (1.x, 2.x or 3.x) the way real code does.

What: `python_app.py SCENARIO` runs one scenario (see SCENARIOS below) with
the SDK initialised from $SENTRY_DSN, then flushes and exits.
Why: capture-client-events.sh points the DSN at a local capture server to
record real client payloads as fixtures for the normalization diff test.
How: one process per scenario, so each DSN path prefix (= output file name)
receives only that scenario's envelopes. Fixed release/environment/
server_name keep the events as deterministic as the SDK allows.
"""
import logging
import os
import sys

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

SDK_MAJOR = int(sentry_sdk.VERSION.split(".")[0])


def init():
    options = dict(
        dsn=os.environ["SENTRY_DSN"],
        release="client-events@1.0.0",
        environment="fixtures",
        server_name="fixture-host",
        traces_sample_rate=1.0,
        send_client_reports=False,
        # 2.x default; 3.x no longer turns error logs into events by default.
        integrations=[LoggingIntegration(event_level=logging.ERROR)],
    )
    if SDK_MAJOR < 3:
        # 3.x replaced this flag with `data_collection` (locals are on by default).
        options["include_local_variables"] = True
    sentry_sdk.init(**options)


# --- exception: nested calls with locals, chained exceptions -----------------
def parse_amount(raw):
    multiplier = 100
    return int(raw) * multiplier


def load_order(order_id, payload):
    items = payload.get("items", [])
    try:
        total = sum(parse_amount(i["amount"]) for i in items)
    except ValueError as e:
        raise RuntimeError(f"order {order_id} has a bad amount") from e
    return total


def handle_request(path):
    payload = {"items": [{"amount": "12"}, {"amount": "twelve"}]}
    order_id = 4711
    return load_order(order_id, payload)


def scenario_exception():
    try:
        handle_request("/orders/4711")
    except Exception:
        sentry_sdk.capture_exception()


# --- message with extra/tags/user/contexts -----------------------------------
def scenario_message():
    sentry_sdk.set_tag("feature", "checkout")
    sentry_sdk.set_tag("customer.tier", "gold")
    sentry_sdk.set_extra("cart", {"items": 3, "currency": "EUR", "coupons": ["WINTER"]})
    sentry_sdk.set_extra("retry_count", 2)
    sentry_sdk.set_user({"id": "user-42", "email": "jane@example.com", "username": "jane", "ip_address": "{{auto}}"})
    sentry_sdk.set_context("payment", {"provider": "acme-pay", "attempt": 2, "amount": 19.99})
    sentry_sdk.set_context("os", {"name": "Linux", "version": "6.1"})
    sentry_sdk.capture_message("Payment provider slow to respond", level="warning")


# --- breadcrumb trail: manual crumbs + logging integration --------------------
def scenario_breadcrumbs():
    log = logging.getLogger("shop.checkout")
    sentry_sdk.add_breadcrumb(category="navigation", data={"from": "/cart", "to": "/checkout"})
    sentry_sdk.add_breadcrumb(type="http", category="httplib",
                              data={"url": "https://api.example.com/rates", "method": "GET", "status_code": 200})
    sentry_sdk.add_breadcrumb(type="query", category="db.query", message="SELECT * FROM orders WHERE id = %s",
                              data={"db.system": "postgresql"})
    sentry_sdk.add_breadcrumb(category="auth", message="user logged in", level="info")
    log.info("cart has %d items", 3)  # becomes a breadcrumb
    log.warning("stock low for sku %s", "SKU-1")  # breadcrumb, warning level
    log.error("checkout failed for order %s", 4711)  # becomes an event carrying the trail


# --- transaction with nested child spans and measurements ---------------------
def scenario_transaction():
    if SDK_MAJOR >= 3:
        # 3.x only streams spans (trace_lifecycle "stream"); no transaction
        # events and no measurements API any more.
        with sentry_sdk.start_span(name="POST /checkout", attributes={"sentry.op": "http.server"}) as root:
            root.set_attribute("http.response.status_code", 200)
            with sentry_sdk.start_span(name="load cart", attributes={"sentry.op": "db"}):
                with sentry_sdk.start_span(name="SELECT cart", attributes={"sentry.op": "db.query", "db.system": "postgresql"}):
                    pass
            with sentry_sdk.start_span(name="charge card", attributes={"sentry.op": "http.client"}) as s:
                s.set_attribute("http.request.method", "POST")
            with sentry_sdk.start_span(name="render", attributes={"sentry.op": "template.render"}):
                pass
        return
    with sentry_sdk.start_transaction(op="http.server", name="POST /checkout", source="route") as txn:
        txn.set_tag("feature", "checkout")
        txn.set_data("request.size", 512)
        with txn.start_child(op="db", description="load cart") as db:
            with db.start_child(op="db.query", description="SELECT * FROM cart WHERE user_id = %s") as q:
                q.set_data("db.system", "postgresql")
        with txn.start_child(op="http.client", description="POST https://pay.example.com/charge") as http:
            http.set_data("http.method", "POST")
            http.set_http_status(201)
        with txn.start_child(op="template.render", description="checkout.html"):
            pass
        txn.set_measurement("ttfb", 12.5, "millisecond")
        txn.set_measurement("cart.items", 3)
        txn.set_measurement("payload.size", 2048, "byte")


# --- invalid values an app might send by mistake -----------------------------
def scenario_invalid():
    sentry_sdk.set_tag("count", 42)  # non-string tag value
    sentry_sdk.set_tag("enabled", True)
    sentry_sdk.set_tag("nothing", None)
    sentry_sdk.set_tag("long", "v" * 300)  # longer than Sentry's 200 char tag limit
    sentry_sdk.set_tag("k" * 250, "long key")
    sentry_sdk.set_extra("huge", "x" * 20 * 1024)  # 20 KB string
    sentry_sdk.set_extra("nested", {"a": {"b": {"c": {"d": {"e": {"f": "deep"}}}}}})
    sentry_sdk.set_user({"id": 123, "email": "not-an-email", "ip_address": "not-an-ip", "username": ""})
    sentry_sdk.set_context("os", "linux")  # context that is not an object
    sentry_sdk.capture_message("x" * 9000, level="critical")  # unknown level, overlong message


# --- unhandled: uncaught exception through sys.excepthook ---------------------
def scenario_unhandled():
    handle_request("/orders/4711")  # raises; the SDK's excepthook reports it


SCENARIOS = {
    "exception": scenario_exception,
    "message": scenario_message,
    "breadcrumbs": scenario_breadcrumbs,
    "transaction": scenario_transaction,
    "invalid": scenario_invalid,
    "unhandled": scenario_unhandled,
}

if __name__ == "__main__":
    init()
    try:
        SCENARIOS[sys.argv[1]]()
    finally:
        sentry_sdk.flush(timeout=10)
