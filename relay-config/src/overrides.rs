//! Overrides from environment variables and command-line flags (`config.md` §1.2).
//!
//! Every override is kept as the raw text it was given in, so that the binary can merge the
//! environment and its flags ([`OverridableConfig::overlaid_with`]) and the validation and
//! error messages live in one place ([`crate::Config::apply_overrides`]).

/// Raw override values; `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverridableConfig {
    /// `RELAY_MODE` / `--mode`: `relay.mode`.
    pub mode: Option<String>,
    /// `RELAY_INSTANCE` / `--instance`: `relay.instance` (`canary`, anything else = default).
    pub instance: Option<String>,
    /// `RELAY_LOG_LEVEL` / `--log-level`: `logging.level`.
    pub log_level: Option<String>,
    /// `RELAY_LOG_FORMAT` / `--log-format`: `logging.format`.
    pub log_format: Option<String>,
    /// `RELAY_UPSTREAM_URL` / `--upstream`: `relay.upstream`.
    pub upstream: Option<String>,
    /// `RELAY_UPSTREAM_DSN` / `--upstream-dsn`: `relay.upstream` from a DSN, used only without
    /// an upstream URL override.
    pub upstream_dsn: Option<String>,
    /// `RELAY_HOST` / `--host`: `relay.host` (literal IP address).
    pub host: Option<String>,
    /// `RELAY_PORT` / `--port`: `relay.port`.
    pub port: Option<String>,
    /// `RELAY_PROCESSING_ENABLED` / `--processing`: `processing.enabled`.
    pub processing: Option<String>,
    /// `RELAY_KAFKA_BROKER_URL` / `--kafka-broker-url`: `bootstrap.servers`.
    pub kafka_url: Option<String>,
    /// `RELAY_REDIS_URL` / `--redis-url`: `processing.redis`.
    pub redis_url: Option<String>,
    /// `RELAY_ID` / `--id`: credentials id.
    pub id: Option<String>,
    /// `RELAY_PUBLIC_KEY` / `--public-key`: credentials public key.
    pub public_key: Option<String>,
    /// `RELAY_SECRET_KEY` / `--secret-key`: credentials secret key.
    pub secret_key: Option<String>,
    /// `RELAY_SOURCE_ID` / `--source-id`: `outcomes.source`.
    pub outcome_source: Option<String>,
    /// `SHUTDOWN_TIMEOUT` / `--shutdown-timeout`: `limits.shutdown_timeout` (ignored unless an
    /// integer).
    pub shutdown_timeout: Option<String>,
    /// `RELAY_SERVER_NAME`, else `HOSTNAME` / `--server-name`: `sentry.server_name`.
    pub server_name: Option<String>,
}

/// Reads one variable; unset and non-unicode values count as not given.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl OverridableConfig {
    /// The overrides given through environment variables.
    pub fn from_env() -> Self {
        Self::from_env_lookup(&env_var)
    }

    /// The overrides given through the variables `lookup` returns.
    pub fn from_env_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            mode: lookup("RELAY_MODE"),
            instance: lookup("RELAY_INSTANCE"),
            log_level: lookup("RELAY_LOG_LEVEL"),
            log_format: lookup("RELAY_LOG_FORMAT"),
            upstream: lookup("RELAY_UPSTREAM_URL"),
            upstream_dsn: lookup("RELAY_UPSTREAM_DSN"),
            host: lookup("RELAY_HOST"),
            port: lookup("RELAY_PORT"),
            processing: lookup("RELAY_PROCESSING_ENABLED"),
            kafka_url: lookup("RELAY_KAFKA_BROKER_URL"),
            redis_url: lookup("RELAY_REDIS_URL"),
            id: lookup("RELAY_ID"),
            public_key: lookup("RELAY_PUBLIC_KEY"),
            secret_key: lookup("RELAY_SECRET_KEY"),
            outcome_source: lookup("RELAY_SOURCE_ID"),
            shutdown_timeout: lookup("SHUTDOWN_TIMEOUT"),
            server_name: lookup("RELAY_SERVER_NAME").or_else(|| lookup("HOSTNAME")),
        }
    }

    /// `self` with every value given in `higher` replaced by it (e.g. environment overlaid
    /// with command-line flags).
    pub fn overlaid_with(self, higher: OverridableConfig) -> Self {
        Self {
            mode: higher.mode.or(self.mode),
            instance: higher.instance.or(self.instance),
            log_level: higher.log_level.or(self.log_level),
            log_format: higher.log_format.or(self.log_format),
            upstream: higher.upstream.or(self.upstream),
            upstream_dsn: higher.upstream_dsn.or(self.upstream_dsn),
            host: higher.host.or(self.host),
            port: higher.port.or(self.port),
            processing: higher.processing.or(self.processing),
            kafka_url: higher.kafka_url.or(self.kafka_url),
            redis_url: higher.redis_url.or(self.redis_url),
            id: higher.id.or(self.id),
            public_key: higher.public_key.or(self.public_key),
            secret_key: higher.secret_key.or(self.secret_key),
            outcome_source: higher.outcome_source.or(self.outcome_source),
            shutdown_timeout: higher.shutdown_timeout.or(self.shutdown_timeout),
            server_name: higher.server_name.or(self.server_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_variable_names() {
        let lookup = |name: &str| Some(format!("value of {name}"));
        let overrides = OverridableConfig::from_env_lookup(&lookup);
        assert_eq!(overrides.mode.as_deref(), Some("value of RELAY_MODE"));
        assert_eq!(
            overrides.upstream.as_deref(),
            Some("value of RELAY_UPSTREAM_URL")
        );
        assert_eq!(
            overrides.processing.as_deref(),
            Some("value of RELAY_PROCESSING_ENABLED")
        );
        assert_eq!(
            overrides.kafka_url.as_deref(),
            Some("value of RELAY_KAFKA_BROKER_URL")
        );
        assert_eq!(
            overrides.outcome_source.as_deref(),
            Some("value of RELAY_SOURCE_ID")
        );
        assert_eq!(
            overrides.shutdown_timeout.as_deref(),
            Some("value of SHUTDOWN_TIMEOUT")
        );
        assert_eq!(
            overrides.server_name.as_deref(),
            Some("value of RELAY_SERVER_NAME")
        );
    }

    #[test]
    fn hostname_is_the_server_name_fallback() {
        let lookup = |name: &str| (name == "HOSTNAME").then(|| "box".to_owned());
        let overrides = OverridableConfig::from_env_lookup(&lookup);
        assert_eq!(overrides.server_name.as_deref(), Some("box"));
        assert_eq!(overrides.mode, None);
    }

    #[test]
    fn higher_layer_wins_per_field() {
        let env = OverridableConfig {
            mode: Some("proxy".into()),
            port: Some("3001".into()),
            ..Default::default()
        };
        let flags = OverridableConfig {
            port: Some("3002".into()),
            host: Some("0.0.0.0".into()),
            ..Default::default()
        };
        let merged = env.overlaid_with(flags);
        assert_eq!(merged.mode.as_deref(), Some("proxy"));
        assert_eq!(merged.port.as_deref(), Some("3002"));
        assert_eq!(merged.host.as_deref(), Some("0.0.0.0"));
    }
}
