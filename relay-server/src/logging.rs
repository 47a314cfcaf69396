//! Logging through `tracing` (config.md §4.12): level and format from the config.

use relay_config::{LogFormat, LogLevel};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once; later calls are ignored.
pub fn init(level: LogLevel, format: LogFormat) {
    let directive = match level {
        LogLevel::Off => "off".to_owned(),
        other => format!(
            "{level},actix_server=warn,actix_web=warn,hyper=warn,reqwest=warn,h2=warn",
            level = other.as_str()
        ),
    };
    let filter = EnvFilter::try_new(directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let is_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
        LogFormat::Simplified => builder.with_ansi(false).compact().try_init(),
        LogFormat::Auto if is_terminal => builder.try_init(),
        LogFormat::Auto => builder.with_ansi(false).compact().try_init(),
    };
    // A second initialisation (e.g. in tests) keeps the first subscriber.
    let _ = result;
}
