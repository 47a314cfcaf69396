//! Logging through `tracing` (config.md §4.12), plus the optional reporting of relay's own
//! warnings and errors to Sentry (config.md §4.14), which sees every `warn`/`error` record
//! whatever `logging.level` says.

use std::sync::{Arc, OnceLock};

use relay_config::{Config, LogFormat, LogLevel};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

use crate::services::internal_errors::{internal_error_reporting, InternalErrorReporter};

/// The internal error reporter, waiting for a runtime to send from.
static REPORTER: OnceLock<Arc<InternalErrorReporter>> = OnceLock::new();

/// Dependencies whose info-level chatter is not useful in relay's log.
const QUIET_TARGETS: &str = "actix_server=warn,actix_web=warn,hyper=warn,reqwest=warn,h2=warn";

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

fn stderr_layer(level: LogLevel, format: LogFormat) -> BoxedLayer {
    let directive = match level {
        LogLevel::Off => "off".to_owned(),
        other => format!("{},{QUIET_TARGETS}", other.as_str()),
    };
    let filter = EnvFilter::try_new(directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let is_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let base = fmt::layer().with_writer(std::io::stderr);
    let layer: BoxedLayer = match format {
        LogFormat::Json => base.json().flatten_event(true).boxed(),
        LogFormat::Pretty => base.pretty().boxed(),
        LogFormat::Auto if is_terminal => base.boxed(),
        LogFormat::Auto | LogFormat::Simplified => base.with_ansi(false).compact().boxed(),
    };
    layer.with_filter(filter).boxed()
}

/// Installs the global subscriber for `config`. Later calls are ignored.
pub fn init(config: &Config) {
    let logging = config.logging();
    let mut layers = vec![stderr_layer(logging.level, logging.format)];
    if let Some((layer, reporter)) = internal_error_reporting(config.sentry()) {
        layers.push(layer.with_filter(LevelFilter::WARN).boxed());
        let _ = REPORTER.set(reporter);
    }
    // A second initialisation (tests, reloads) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers).try_init();
}

/// Starts sending internal error reports; call from within the runtime.
pub fn start_internal_error_reporting() {
    if let Some(reporter) = REPORTER.get() {
        reporter.start();
    }
}
