//! Reporting relay's own warnings and errors to Sentry (`sentry.enabled`, config.md §4.14,
//! relay-protocol.md §12).
//!
//! A `tracing` layer turns every `warn`/`error` record into a Sentry event (message, level,
//! the record's `error` field as exception value) and hands it to a bounded channel; a task on
//! the runtime posts each as an envelope to the standard envelope endpoint of `sentry.dsn`,
//! uncompressed. This is independent of `logging.level`. Nothing here logs at `warn` or above
//! itself, so a failing report cannot cause another report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use parking_lot::Mutex;
use relay_config::SentryConfig;
use relay_protocol::dsn::Dsn;
use relay_protocol::EventId;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use crate::RELAY_VERSION;

/// Reports waiting to be sent; beyond this they are dropped (the relay is in trouble anyway).
const REPORT_QUEUE_CAPACITY: usize = 256;

/// One report to send.
#[derive(Debug)]
pub struct InternalReport {
    pub level: &'static str,
    pub logger: String,
    pub message: String,
    pub error: Option<String>,
}

/// The `tracing` layer collecting reports.
pub struct InternalErrorLayer {
    sender: mpsc::Sender<InternalReport>,
}

/// The receiving end, started once a runtime exists.
pub struct InternalErrorReporter {
    receiver: Mutex<Option<mpsc::Receiver<InternalReport>>>,
    dsn: Dsn,
    config: SentryConfig,
}

/// Creates the layer and its reporter, or `None` when reporting is off or the DSN is invalid.
pub fn internal_error_reporting(
    config: &SentryConfig,
) -> Option<(InternalErrorLayer, Arc<InternalErrorReporter>)> {
    if !config.enabled {
        return None;
    }
    let dsn = match Dsn::parse(&config.dsn) {
        Ok(dsn) => dsn,
        Err(error) => {
            eprintln!("sentry.dsn is not a valid DSN ({error}); internal error reporting is off");
            return None;
        }
    };
    let (sender, receiver) = mpsc::channel(REPORT_QUEUE_CAPACITY);
    let reporter = Arc::new(InternalErrorReporter {
        receiver: Mutex::new(Some(receiver)),
        dsn,
        config: config.clone(),
    });
    Some((InternalErrorLayer { sender }, reporter))
}

#[derive(Default)]
struct FieldCollector {
    message: String,
    error: Option<String>,
    others: BTreeMap<String, String>,
}

impl Visit for FieldCollector {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        match field.name() {
            "message" => self.message = text,
            "error" => self.error = Some(text),
            name => {
                self.others.insert(name.to_owned(), text);
            }
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "error" => self.error = Some(value.to_owned()),
            name => {
                self.others.insert(name.to_owned(), value.to_owned());
            }
        }
    }
}

impl<S: Subscriber> Layer<S> for InternalErrorLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            _ => return,
        };
        let mut fields = FieldCollector::default();
        event.record(&mut fields);
        let _ = self.sender.try_send(InternalReport {
            level,
            logger: event.metadata().target().to_owned(),
            message: fields.message,
            error: fields.error,
        });
    }
}

impl InternalErrorReporter {
    /// Starts sending on the current runtime. Only the first call has an effect.
    pub fn start(self: &Arc<Self>) {
        let Some(receiver) = self.receiver.lock().take() else {
            return;
        };
        tokio::spawn(self.clone().run(receiver));
    }

    fn event_json(&self, report: &InternalReport) -> Value {
        let mut event = json!({
            "event_id": EventId::new().to_string(),
            "timestamp": chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
            "platform": "other",
            "level": report.level,
            "logger": report.logger,
            "message": report.message,
            "release": format!("relay@{RELAY_VERSION}"),
            "sdk": {"name": "sentry.relay", "version": RELAY_VERSION},
        });
        if let Some(error) = &report.error {
            event["exception"] = json!({"values": [{"type": "Error", "value": error}]});
        }
        if let Some(environment) = &self.config.environment {
            event["environment"] = Value::from(environment.clone());
        }
        if let Some(server_name) = &self.config.server_name {
            event["server_name"] = Value::from(server_name.clone());
        }
        if let Some(tags) = &self.config.default_tags {
            event["tags"] = json!(tags);
        }
        event
    }

    async fn run(self: Arc<Self>, mut receiver: mpsc::Receiver<InternalReport>) {
        let client = match reqwest::Client::builder().no_proxy().build() {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(error = %error, "internal error reporting could not start");
                return;
            }
        };
        let dsn = &self.dsn;
        let default_port = dsn.scheme().default_port();
        let authority = if dsn.port() == default_port {
            dsn.host().to_owned()
        } else {
            format!("{}:{}", dsn.host(), dsn.port())
        };
        let path = dsn.path().trim_end_matches('/');
        let url = format!(
            "{}://{authority}{path}/api/{}/envelope/",
            dsn.scheme().as_str(),
            dsn.project_id()
        );
        let auth = format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client=sentry.relay/{RELAY_VERSION}",
            dsn.public_key()
        );
        while let Some(report) = receiver.recv().await {
            let event = self.event_json(&report);
            let payload = event.to_string();
            let body = format!(
                "{{\"event_id\":\"{}\",\"dsn\":\"{}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{}\n",
                event["event_id"].as_str().unwrap_or_default(),
                self.config.dsn,
                payload.len(),
                payload
            );
            let result = client
                .post(&url)
                .header("X-Sentry-Auth", &auth)
                .header("Content-Type", "application/x-sentry-envelope")
                .body(body)
                .send()
                .await;
            if let Err(error) = result {
                tracing::debug!(error = %error, "could not send internal error report");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_or_invalid_dsn_means_no_reporting() {
        let mut config = SentryConfig::default();
        assert!(internal_error_reporting(&config).is_none());
        config.enabled = true;
        config.dsn = "not a dsn".to_owned();
        assert!(internal_error_reporting(&config).is_none());
    }

    #[test]
    fn event_carries_message_level_and_error() {
        let config = SentryConfig {
            enabled: true,
            dsn: "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/42".to_owned(),
            environment: Some("prod".to_owned()),
            ..SentryConfig::default()
        };
        let (_layer, reporter) = internal_error_reporting(&config).unwrap();
        let event = reporter.event_json(&InternalReport {
            level: "error",
            logger: "relay_server::services::forwarding::sink".to_owned(),
            message: "error sending envelope".to_owned(),
            error: Some("connection refused".to_owned()),
        });
        assert_eq!(event["level"], "error");
        assert_eq!(event["message"], "error sending envelope");
        assert_eq!(
            event["exception"]["values"][0]["value"],
            "connection refused"
        );
        assert_eq!(event["environment"], "prod");
    }
}
