//! Tiny "app" that uses the Rust `sentry` crate the way real code does.
//!
//! What: `client-events-app SCENARIO` runs one scenario (see `main`) with the
//! SDK initialised from $SENTRY_DSN, then flushes (dropping the init guard)
//! and exits.
//! Why: capture-client-events.sh points the DSN at a local capture server to
//! record real client payloads as fixtures for the normalization diff test.
//! How: the script copies this file and rust_app.Cargo.toml/.lock into a
//! throwaway cargo project under /tmp (never the workspace), builds it and
//! runs it once per scenario, so each DSN path prefix (= output file name)
//! receives only that scenario's envelopes. Fixed release/environment/
//! server_name. Stack traces come from the `backtrace` integration (panics,
//! `attach_stacktrace`) and from anyhow's std backtrace (RUST_BACKTRACE=1).

use std::collections::BTreeMap;
use std::fmt;
use std::thread::sleep;
use std::time::Duration;

use sentry::protocol::{Breadcrumb, Context, Level, Map, User, Value};
use serde_json::json;

// --- exception: nested calls, an error with a source chain and a backtrace --
#[derive(Debug)]
struct BadAmount {
    raw: String,
    source: std::num::ParseIntError,
}

impl fmt::Display for BadAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a number: {}", self.raw)
    }
}

impl std::error::Error for BadAmount {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[inline(never)]
fn parse_amount(raw: &str) -> Result<i64, BadAmount> {
    let multiplier = 100;
    raw.parse::<i64>()
        .map(|n| n * multiplier)
        .map_err(|source| BadAmount { raw: raw.to_owned(), source })
}

#[inline(never)]
fn load_order(order_id: u32, amounts: &[&str]) -> anyhow::Result<i64> {
    let mut total = 0;
    for raw in amounts {
        total += parse_amount(raw).map_err(|e| anyhow::Error::new(e).context(format!("order {order_id} has a bad amount")))?;
    }
    Ok(total)
}

#[inline(never)]
fn handle_request(_path: &str) -> anyhow::Result<i64> {
    let order_id = 4711;
    load_order(order_id, &["12", "twelve"])
}

fn scenario_exception() {
    // anyhow: the chain becomes exception values, anyhow's backtrace the stack trace.
    if let Err(e) = handle_request("/orders/4711") {
        sentry::integrations::anyhow::capture_anyhow(&e);
    }
    // A plain std error chain, as `capture_error` sends it.
    if let Err(e) = parse_amount("twelve") {
        sentry::capture_error(&e);
    }
}

// --- message with extra/tags/user/contexts -----------------------------------
fn scenario_message() {
    sentry::configure_scope(|scope| {
        scope.set_tag("feature", "checkout");
        scope.set_tag("customer.tier", "gold");
        scope.set_extra("cart", json!({"items": 3, "currency": "EUR", "coupons": ["WINTER"]}));
        scope.set_extra("retry_count", json!(2));
        scope.set_user(Some(User {
            id: Some("user-42".into()),
            email: Some("jane@example.com".into()),
            username: Some("jane".into()),
            ip_address: Some(sentry::protocol::IpAddress::Auto),
            ..Default::default()
        }));
        let mut payment = BTreeMap::new();
        payment.insert("provider".to_owned(), json!("acme-pay"));
        payment.insert("attempt".to_owned(), json!(2));
        payment.insert("amount".to_owned(), json!(19.99));
        scope.set_context("payment", Context::Other(payment));
    });
    sentry::capture_message("Payment provider slow to respond", Level::Warning);
}

// --- breadcrumbs, then an error ----------------------------------------------
fn crumb(ty: &str, category: &str, message: Option<&str>, data: Value, level: Level) -> Breadcrumb {
    Breadcrumb {
        ty: ty.into(),
        category: Some(category.into()),
        message: message.map(Into::into),
        data: match data {
            Value::Object(map) => map.into_iter().collect(),
            _ => Map::new(),
        },
        level,
        ..Default::default()
    }
}

fn scenario_breadcrumbs() {
    sentry::add_breadcrumb(crumb("navigation", "navigation", None, json!({"from": "/cart", "to": "/checkout"}), Level::Info));
    sentry::add_breadcrumb(crumb(
        "http",
        "http",
        None,
        json!({"url": "https://api.example.com/rates", "method": "GET", "status_code": 200}),
        Level::Info,
    ));
    sentry::add_breadcrumb(crumb("query", "db.query", Some("SELECT * FROM orders WHERE id = $1"), json!({}), Level::Info));
    sentry::add_breadcrumb(crumb("default", "auth", Some("user logged in"), json!({}), Level::Info));
    sentry::add_breadcrumb(crumb("debug", "log", Some("stock low for sku SKU-1"), json!({}), Level::Warning));
    if let Err(e) = parse_amount("twelve") {
        sentry::capture_error(&e);
    }
}

// --- transaction with nested child spans --------------------------------------
// The crate has no measurements API; spans carry data, the transaction a request.
fn scenario_transaction() {
    let ctx = sentry::TransactionContext::new("POST /checkout", "http.server");
    let tx = sentry::start_transaction(ctx);
    tx.set_request(sentry::protocol::Request {
        url: Some("https://shop.example.com/checkout".parse().unwrap()),
        method: Some("POST".into()),
        ..Default::default()
    });
    tx.set_tag("feature", "checkout");
    sentry::configure_scope(|scope| scope.set_span(Some(tx.clone().into())));
    {
        let load = tx.start_child("db", "load cart");
        let query = load.start_child("db.query", "SELECT * FROM cart WHERE user_id = $1");
        query.set_data("db.system", json!("postgresql"));
        sleep(Duration::from_millis(2));
        query.finish();
        load.finish();
        let charge = tx.start_child("http.client", "POST https://pay.example.com/charge");
        charge.set_data("http.request.method", json!("POST"));
        sleep(Duration::from_millis(3));
        charge.set_status(sentry::protocol::SpanStatus::Ok);
        charge.finish();
        let render = tx.start_child("template.render", "checkout.html");
        sleep(Duration::from_millis(1));
        render.finish();
    }
    tx.set_status(sentry::protocol::SpanStatus::Ok);
    sentry::configure_scope(|scope| scope.set_span(None));
    tx.finish();
}

// --- invalid values an app might send by mistake -------------------------------
// The typed API rules out most mistakes (tags are strings, the IP is parsed,
// contexts are objects, levels an enum); these are the ones it lets through.
fn scenario_invalid() {
    sentry::configure_scope(|scope| {
        scope.set_tag("long", "v".repeat(300));
        scope.set_tag(&"k".repeat(250), "long key");
        scope.set_tag("", "empty key");
        scope.set_extra("huge", json!("x".repeat(20 * 1024))); // 20 KB string
        scope.set_extra("nested", json!({"a": {"b": {"c": {"d": {"e": {"f": "deep"}}}}}}));
        scope.set_extra("nan", json!(f64::NAN)); // serde_json turns it into null
        scope.set_user(Some(User {
            id: Some("".into()),
            email: Some("not-an-email".into()),
            username: Some("".into()),
            ..Default::default()
        }));
        // Well-known context keys holding an "other" context of the wrong shape.
        let mut os = BTreeMap::new();
        os.insert("name".to_owned(), json!(42));
        os.insert("version".to_owned(), json!(["1", "2"]));
        scope.set_context("os", Context::Other(os));
        let mut browser = BTreeMap::new();
        browser.insert("trace_id".to_owned(), json!("not-a-trace-id"));
        scope.set_context("browser", Context::Other(browser));
        scope.set_fingerprint(Some(&["{{ default }}", ""]));
    });
    sentry::capture_message(&"x".repeat(9000), Level::Fatal); // overlong message
}

// --- unhandled: a panic, reported by the panic integration ---------------------
fn scenario_unhandled() {
    let total = handle_request("/orders/4711").expect("order total");
    println!("{total}");
}

fn main() {
    let scenario = std::env::args().nth(1).expect("usage: client-events-app SCENARIO");
    let _guard = sentry::init((
        std::env::var("SENTRY_DSN").expect("SENTRY_DSN"),
        sentry::ClientOptions::new()
            .release("client-events@1.0.0")
            .environment("fixtures")
            .server_name("fixture-host")
            .traces_sample_rate(1.0)
            // Messages get the current thread's stack trace, as apps that turn this on see.
            .attach_stacktrace(true),
    ));
    match scenario.as_str() {
        "exception" => scenario_exception(),
        "message" => scenario_message(),
        "breadcrumbs" => scenario_breadcrumbs(),
        "transaction" => scenario_transaction(),
        "invalid" => scenario_invalid(),
        "unhandled" => scenario_unhandled(),
        other => panic!("unknown scenario {other}"),
    }
}
