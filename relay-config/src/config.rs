//! The loaded configuration: `config.yml` values, credentials and the config directory
//! (`config.md` §1, §1.2, §5).
//!
//! Invariants:
//! * I/O happens only in [`Config::from_path`] (reading `config.yml`, `credentials.json`,
//!   substituted files, Docker detection) and [`Config::replace_credentials`] (writing or
//!   removing `credentials.json`); everything else is pure;
//! * without a config directory ([`Config::path`] is `None`) nothing is ever written and
//!   relative paths resolve against the working directory;
//! * [`Config::apply_overrides`] either applies all overrides or, on error, none.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use relay_auth::{PublicKey, RelayId, SecretKey};
use serde::Deserialize;
use serde_yaml::Value;

use crate::aggregator::AggregatorConfig;
use crate::byte_size::ByteSize;
use crate::credentials::Credentials;
use crate::overrides::OverridableConfig;
use crate::processing::{ProcessingConfig, RedisConfig, RedisServerConfig};
use crate::substitution::{substitute_variables, EnvLookup, SubstitutionError};
use crate::upstream::UpstreamDescriptor;
use crate::values::{
    AuthReady, ConfigValues, EmitOutcomes, HealthConfig, HttpEncoding, LogFormat, LogLevel,
    LoggingConfig, NormalizationLevel, RelayInfo, RelayInstance, RelayMode, RelayModeParseError,
    SentryConfig,
};

/// Name of the main config file inside the config directory.
pub const CONFIG_FILE_NAME: &str = "config.yml";
/// Name of the credentials file inside the config directory.
pub const CREDENTIALS_FILE_NAME: &str = "credentials.json";
/// Name of the optional global config file.
pub const GLOBAL_CONFIG_FILE_NAME: &str = "global_config.json";
/// Directory of per-project config files in static mode (relay extension).
pub const STATIC_PROJECTS_DIR_NAME: &str = "projects";
/// Subdirectory of `output.directory` receiving envelope files (relay extension).
pub const OUTPUT_ENVELOPES_DIR_NAME: &str = "envelopes";

/// *Relay extension*: the directory below `output.directory` that holds the topic files of a
/// processing relay without Kafka.
pub const OUTPUT_TOPICS_DIR_NAME: &str = "topics";

/// Permissions of files relay writes: owner read/write only.
#[cfg(unix)]
const PRIVATE_FILE_MODE: u32 = 0o600;
/// Suffix of the temporary file credentials are written to before being renamed into place.
const TEMPORARY_SUFFIX: &str = ".tmp";
/// Label used instead of a file name for configs parsed from a string.
const INLINE_SOURCE_LABEL: &str = "<inline>";

/// Exists inside Docker containers.
const DOCKER_ENV_FILE: &str = "/.dockerenv";
/// Mentions `/docker` inside Docker containers (cgroup v1).
const CGROUP_FILE: &str = "/proc/self/cgroup";
/// Marker searched for in [`CGROUP_FILE`].
const DOCKER_CGROUP_MARKER: &str = "/docker";
/// Listen address outside Docker.
const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Listen address inside Docker, so that the published port is reachable.
const DOCKER_DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
/// Reload interval used for `relay.config_reload_interval: 0`.
const FASTEST_RELOAD_INTERVAL: Duration = Duration::from_millis(50);

/// Line and column (both 1-based) of a YAML error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlLocation {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Renders `, line L, column C` after the file name, or nothing without a location.
struct LocationSuffix<'a>(&'a Option<YamlLocation>);

impl fmt::Display for LocationSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(location) => write!(f, ", line {}, column {}", location.line, location.column),
            None => Ok(()),
        }
    }
}

/// Everything that can go wrong loading, overriding, validating or storing the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `config.yml` (or the directory) could not be read.
    #[error("could not open config file (file {})", .path.display())]
    CouldNotOpenFile {
        /// The file that was opened.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `config.yml` is not valid YAML or does not match the typed model.
    #[error("could not parse config file (file {file}{}): {message}", LocationSuffix(.location))]
    Parse {
        /// The file, or `<inline>` for strings.
        file: String,
        /// Where the error is, when known.
        location: Option<YamlLocation>,
        /// What is wrong.
        message: String,
    },
    /// A `${…}` placeholder could not be replaced.
    #[error("could not substitute a variable in config file (file {file})")]
    Substitution {
        /// The file, or `<inline>` for strings.
        file: String,
        /// The failed placeholder.
        #[source]
        source: SubstitutionError,
    },
    /// `credentials.json` exists but could not be read.
    #[error("could not open credentials file (file {})", .path.display())]
    CouldNotOpenCredentials {
        /// The credentials file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `credentials.json` is not valid.
    #[error("could not parse credentials file (file {})", .path.display())]
    CouldNotParseCredentials {
        /// The credentials file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// `credentials.json` could not be written or removed.
    #[error("could not write credentials file (file {})", .path.display())]
    CouldNotWriteCredentials {
        /// The credentials file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// An override value is invalid, or credential overrides are incomplete.
    #[error("invalid config value (field {field})")]
    InvalidValue {
        /// The overridden field, or `incomplete credentials`.
        field: &'static str,
        /// Why the value is invalid.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The mode override names no known mode.
    #[error(transparent)]
    InvalidMode(#[from] RelayModeParseError),
    /// Managed mode without credentials (startup check 1).
    #[error(
        "relay has no credentials, which are required in managed mode. Generate some with \
         \"relay credentials generate\" first."
    )]
    MissingCredentials,
    /// Processing outside managed mode (startup check 2).
    #[error("Processing can only be enabled in managed mode.")]
    ProcessingNotInManagedMode,
    /// The effective configuration could not be rendered as YAML.
    #[error("could not serialize the configuration")]
    Serialize(#[source] serde_yaml::Error),
}

impl ConfigError {
    fn invalid_value(
        field: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ConfigError::InvalidValue {
            field,
            source: Some(Box::new(source)),
        }
    }
}

/// Field name reported when only some credential overrides are given.
const INCOMPLETE_CREDENTIALS_FIELD: &str = "incomplete credentials";

/// Converts a serde_yaml error into [`ConfigError::Parse`], moving the location out of the
/// message into the prefix.
fn yaml_error(file: &str, error: &serde_yaml::Error) -> ConfigError {
    let location = error.location().map(|location| YamlLocation {
        line: location.line(),
        column: location.column(),
    });
    let mut message = error.to_string();
    if let Some(location) = location {
        let suffix = format!(" at line {} column {}", location.line, location.column);
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
    }
    ConfigError::Parse {
        file: file.to_owned(),
        location,
        message,
    }
}

/// Parses `config.yml` text: YAML → substitution → typed values.
///
/// Type errors are located by re-reading the original text when no placeholder was replaced
/// (the YAML tree carries no positions); with substitutions the message names the key path.
pub(crate) fn parse_values(
    text: &str,
    file: &str,
    base_dir: &Path,
    env: EnvLookup<'_>,
) -> Result<ConfigValues, ConfigError> {
    if text.trim().is_empty() {
        return Ok(ConfigValues::default());
    }
    let mut tree: Value = serde_yaml::from_str(text).map_err(|error| yaml_error(file, &error))?;
    if tree.is_null() {
        return Ok(ConfigValues::default());
    }
    let substituted = substitute_variables(&mut tree, base_dir, env).map_err(|source| {
        ConfigError::Substitution {
            file: file.to_owned(),
            source,
        }
    })?;
    let tree_error = match ConfigValues::deserialize(&tree) {
        Ok(values) => return Ok(values),
        Err(error) => error,
    };
    if !substituted {
        if let Err(located_error) = serde_yaml::from_str::<ConfigValues>(text) {
            return Err(yaml_error(file, &located_error));
        }
    }
    let mut error = yaml_error(file, &tree_error);
    let path = failing_key_path(&tree);
    if let (ConfigError::Parse { message, .. }, false) = (&mut error, path.is_empty()) {
        *message = format!("{}: {message}", path.join("."));
    }
    Err(error)
}

/// A tree holding only `leaf` at `path` (all other keys default).
fn tree_with_only(path: &[Value], leaf: &Value) -> Value {
    path.iter().rev().fold(leaf.clone(), |inner, key| {
        let mut mapping = serde_yaml::Mapping::new();
        mapping.insert(key.clone(), inner);
        Value::Mapping(mapping)
    })
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        other => serde_yaml::to_string(other)
            .map(|text| text.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

/// Finds the key path of a type error in a tree that fails to deserialize.
///
/// Every section is `#[serde(default)]`, so a tree reduced to a single key path deserializes
/// unless that path holds the error; descending while exactly such a path fails isolates it.
/// Needed because errors from a YAML tree carry neither position nor path.
fn failing_key_path(tree: &Value) -> Vec<String> {
    let mut path: Vec<Value> = Vec::new();
    let mut node = tree;
    while let Value::Mapping(mapping) = node {
        let failing_child = mapping.iter().find(|(key, child)| {
            let mut candidate = path.clone();
            candidate.push((*key).clone());
            serde_yaml::from_value::<ConfigValues>(tree_with_only(&candidate, child)).is_err()
        });
        let Some((key, child)) = failing_child else {
            break;
        };
        path.push(key.clone());
        node = child;
    }
    path.iter().map(key_text).collect()
}

fn process_env(name: &str) -> Result<String, std::env::VarError> {
    std::env::var(name)
}

fn running_in_docker() -> bool {
    if Path::new(DOCKER_ENV_FILE).exists() {
        return true;
    }
    std::fs::read_to_string(CGROUP_FILE)
        .map(|cgroups| cgroups.contains(DOCKER_CGROUP_MARKER))
        .unwrap_or(false)
}

fn read_credentials(path: &Path) -> Result<Option<Credentials>, ConfigError> {
    let json = match std::fs::read_to_string(path) {
        Ok(json) => json,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::CouldNotOpenCredentials {
                path: path.to_owned(),
                source,
            })
        }
    };
    Credentials::from_json(&json).map(Some).map_err(|source| {
        ConfigError::CouldNotParseCredentials {
            path: path.to_owned(),
            source,
        }
    })
}

/// Writes `contents` to `path` with owner-only permissions, via a temporary file and rename so
/// that readers never see a partial file.
fn write_private_file(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write;

    let mut temporary_name = path.as_os_str().to_owned();
    temporary_name.push(TEMPORARY_SUFFIX);
    let temporary_path = PathBuf::from(temporary_name);

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    let mut file = options.open(&temporary_path)?;
    // `mode` only applies to newly created files; a leftover temporary file keeps its mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    }
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary_path, path)
}

fn parse_processing_flag(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" | "" => Some(false),
        _ => None,
    }
}

/// A boolean override that is neither `true`/`1` nor `false`/`0`/empty.
#[derive(Debug, thiserror::Error)]
#[error("expected true, 1, false, 0 or an empty value, got {0:?}")]
struct InvalidFlagError(String);

/// The loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The typed `config.yml` values (after overrides).
    pub values: ConfigValues,
    credentials: Option<Credentials>,
    path: Option<PathBuf>,
    default_host: IpAddr,
}

impl Default for Config {
    /// Built-in defaults without a config directory (outside Docker).
    fn default() -> Self {
        Self {
            values: ConfigValues::default(),
            credentials: None,
            path: None,
            default_host: DEFAULT_HOST,
        }
    }
}

impl Config {
    /// Loads the config directory `dir` (relative paths resolve against the working directory).
    ///
    /// `explicit` says whether the directory was given with `-c`: then `config.yml` must exist.
    /// Otherwise a missing `config.yml` means built-in defaults and *no* config directory
    /// (`credentials.json` is not read, nothing will be written). An empty file means all
    /// defaults.
    pub fn from_path(dir: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let config_file = dir.join(CONFIG_FILE_NAME);
        let dir = std::path::absolute(dir).map_err(|source| ConfigError::CouldNotOpenFile {
            path: config_file.clone(),
            source,
        })?;
        let config_file = dir.join(CONFIG_FILE_NAME);
        let default_host = if running_in_docker() {
            DOCKER_DEFAULT_HOST
        } else {
            DEFAULT_HOST
        };

        let text = match std::fs::read_to_string(&config_file) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound && !explicit => {
                return Ok(Config {
                    default_host,
                    ..Config::default()
                });
            }
            Err(source) => {
                return Err(ConfigError::CouldNotOpenFile {
                    path: config_file,
                    source,
                })
            }
        };

        let file_label = config_file.display().to_string();
        let values = parse_values(&text, &file_label, &dir, &process_env)?;
        let credentials = read_credentials(&dir.join(CREDENTIALS_FILE_NAME))?;
        Ok(Config {
            values,
            credentials,
            path: Some(dir),
            default_host,
        })
    }

    /// Parses `config.yml` text without a config directory (for tests and embedding).
    ///
    /// `${file:…}` paths resolve against the working directory; the default listen address is
    /// `127.0.0.1` (no Docker detection).
    pub fn from_yaml_str(yaml: &str) -> Result<Config, ConfigError> {
        let values = parse_values(yaml, INLINE_SOURCE_LABEL, Path::new("."), &process_env)?;
        Ok(Config {
            values,
            ..Config::default()
        })
    }

    /// A configuration from already typed values, without a config directory.
    pub fn from_values(values: ConfigValues) -> Config {
        Config {
            values,
            ..Config::default()
        }
    }

    /// The typed `config.yml` values.
    pub fn values(&self) -> &ConfigValues {
        &self.values
    }

    /// Mutable access to the typed values (tests, embedding).
    pub fn values_mut(&mut self) -> &mut ConfigValues {
        &mut self.values
    }

    /// The absolute config directory, or `None` when running on built-in defaults.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The relay identity, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Where `credentials.json` lives, or `None` without a config directory.
    pub fn credentials_path(&self) -> Option<PathBuf> {
        self.path
            .as_ref()
            .map(|dir| dir.join(CREDENTIALS_FILE_NAME))
    }

    /// Replaces the credentials and persists them: writes `credentials.json` (pretty JSON,
    /// mode 0600) or removes it for `None`. Without a config directory only the in-memory state
    /// changes. Returns whether the credentials changed; unchanged credentials are not written.
    pub fn replace_credentials(
        &mut self,
        credentials: Option<Credentials>,
    ) -> Result<bool, ConfigError> {
        if self.credentials == credentials {
            return Ok(false);
        }
        if let Some(path) = self.credentials_path() {
            let result = match &credentials {
                Some(credentials) => write_private_file(&path, &credentials.to_json_pretty()),
                None => match std::fs::remove_file(&path) {
                    Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
                    other => other,
                },
            };
            result.map_err(|source| ConfigError::CouldNotWriteCredentials { path, source })?;
        }
        self.credentials = credentials;
        Ok(true)
    }

    /// The effective configuration as YAML for `config show` (credentials are not included;
    /// the default listen address is written out).
    pub fn to_yaml_string(&self) -> Result<String, ConfigError> {
        let mut values = self.values.clone();
        values.relay.host = Some(self.listen_host());
        serde_yaml::to_string(&values).map_err(ConfigError::Serialize)
    }

    /// Applies environment/flag overrides (`config.md` §1.2). On error nothing is changed.
    pub fn apply_overrides(&mut self, overrides: OverridableConfig) -> Result<(), ConfigError> {
        let mut values = self.values.clone();
        let credentials = self.overridden_credentials(&overrides)?;

        if let Some(mode) = &overrides.mode {
            values.relay.mode = mode.parse()?;
        }
        if let Some(instance) = &overrides.instance {
            values.relay.instance = if instance == "canary" {
                RelayInstance::Canary
            } else {
                RelayInstance::Default
            };
        }
        if let Some(level) = &overrides.log_level {
            values.logging.level = level
                .parse::<LogLevel>()
                .map_err(|error| ConfigError::invalid_value("log_level", error))?;
        }
        if let Some(format) = &overrides.log_format {
            values.logging.format = format
                .parse::<LogFormat>()
                .map_err(|error| ConfigError::invalid_value("log_format", error))?;
        }
        if let Some(upstream) = &overrides.upstream {
            values.relay.upstream = upstream
                .parse()
                .map_err(|error| ConfigError::invalid_value("upstream", error))?;
        } else if let Some(dsn) = &overrides.upstream_dsn {
            values.relay.upstream = UpstreamDescriptor::from_dsn(dsn)
                .map_err(|error| ConfigError::invalid_value("upstream_dsn", error))?;
        }
        if let Some(host) = &overrides.host {
            values.relay.host = Some(
                host.parse()
                    .map_err(|error| ConfigError::invalid_value("host", error))?,
            );
        }
        if let Some(port) = &overrides.port {
            values.relay.port = port
                .parse()
                .map_err(|error| ConfigError::invalid_value("port", error))?;
        }
        if let Some(processing) = &overrides.processing {
            values.processing.enabled = parse_processing_flag(processing).ok_or_else(|| {
                ConfigError::invalid_value("processing", InvalidFlagError(processing.clone()))
            })?;
        }
        if let Some(kafka_url) = &overrides.kafka_url {
            values
                .processing
                .set_kafka_bootstrap_servers(kafka_url.clone());
        }
        if let Some(redis_url) = &overrides.redis_url {
            values.processing.redis = Some(RedisConfig::Unified(RedisServerConfig::Url(
                redis_url.clone(),
            )));
        }
        if let Some(source) = &overrides.outcome_source {
            values.outcomes.source = Some(source.clone());
        }
        if let Some(shutdown_timeout) = &overrides.shutdown_timeout {
            // Non-integer values are ignored, as specified.
            if let Ok(seconds) = shutdown_timeout.parse::<u64>() {
                values.limits.shutdown_timeout = seconds;
            }
        }
        if let Some(server_name) = &overrides.server_name {
            values.sentry.server_name = Some(server_name.clone());
        }

        self.values = values;
        self.credentials = credentials;
        Ok(())
    }

    /// The credentials after applying the id/key overrides.
    fn overridden_credentials(
        &self,
        overrides: &OverridableConfig,
    ) -> Result<Option<Credentials>, ConfigError> {
        let id = overrides
            .id
            .as_deref()
            .map(|text| text.parse::<RelayId>())
            .transpose()
            .map_err(|error| ConfigError::invalid_value("id", error))?;
        let public_key = overrides
            .public_key
            .as_deref()
            .map(|text| text.parse::<PublicKey>())
            .transpose()
            .map_err(|error| ConfigError::invalid_value("public_key", error))?;
        let secret_key = overrides
            .secret_key
            .as_deref()
            .map(|text| text.parse::<SecretKey>())
            .transpose()
            .map_err(|error| ConfigError::invalid_value("secret_key", error))?;

        let Some(existing) = &self.credentials else {
            return match (id, public_key, secret_key) {
                (None, None, None) => Ok(None),
                (Some(id), Some(public_key), Some(secret_key)) => Ok(Some(Credentials {
                    secret_key,
                    public_key,
                    id,
                })),
                _ => Err(ConfigError::InvalidValue {
                    field: INCOMPLETE_CREDENTIALS_FIELD,
                    source: None,
                }),
            };
        };
        Ok(Some(Credentials {
            secret_key: secret_key.unwrap_or_else(|| existing.secret_key.clone()),
            public_key: public_key.unwrap_or(existing.public_key),
            id: id.unwrap_or(existing.id),
        }))
    }

    /// Startup checks 1–2 of `config.md` §5: managed mode needs credentials; processing needs
    /// managed mode.
    pub fn validate_for_run(&self) -> Result<(), ConfigError> {
        let mode = self.values.relay.mode;
        if mode == RelayMode::Managed && self.credentials.is_none() {
            return Err(ConfigError::MissingCredentials);
        }
        // Relay extension: the embedded default processes in static mode, writing topic
        // files instead of producing to Kafka (no upstream, no Kafka needed).
        let embedded_processing = mode == RelayMode::Static && !self.kafka_configured();
        if self.values.processing.enabled && mode != RelayMode::Managed && !embedded_processing {
            return Err(ConfigError::ProcessingNotInManagedMode);
        }
        Ok(())
    }

    /// Whether `processing.kafka_config` names any producer parameter. Without one, a
    /// processing relay writes its messages to topic files (relay extension).
    pub fn kafka_configured(&self) -> bool {
        !self.values.processing.kafka_config.is_empty()
    }

    /// Resolves a configured path against the config directory (or the working directory).
    fn resolve(&self, path: &Path) -> PathBuf {
        match &self.path {
            Some(dir) => dir.join(path),
            None => path.to_owned(),
        }
    }

    /// The operating mode.
    pub fn mode(&self) -> RelayMode {
        self.values.relay.mode
    }

    /// Whether this is a processing relay.
    pub fn processing_enabled(&self) -> bool {
        self.values.processing.enabled
    }

    /// The upstream origin.
    pub fn upstream_descriptor(&self) -> &UpstreamDescriptor {
        &self.values.relay.upstream
    }

    /// How outcomes are emitted.
    pub fn emit_outcomes(&self) -> EmitOutcomes {
        self.values.outcomes.emit_outcomes
    }

    /// Whether unknown envelope items are forwarded: `routing.accept_unknown_items`, by default
    /// true unless processing.
    pub fn accept_unknown_items(&self) -> bool {
        self.values
            .routing
            .accept_unknown_items
            .unwrap_or(!self.processing_enabled())
    }

    /// The main listen IP: `relay.host`, else `127.0.0.1` (`0.0.0.0` in Docker).
    pub fn listen_host(&self) -> IpAddr {
        self.values.relay.host.unwrap_or(self.default_host)
    }

    /// The main listen address.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen_host(), self.values.relay.port)
    }

    /// The listen address of the internal routes, if either `internal_host` or
    /// `internal_port` is set; the missing part falls back to `host`/`port`.
    pub fn internal_listen_addr(&self) -> Option<SocketAddr> {
        let relay = &self.values.relay;
        if relay.internal_host.is_none() && relay.internal_port.is_none() {
            return None;
        }
        Some(SocketAddr::new(
            relay.internal_host.unwrap_or(self.listen_host()),
            relay.internal_port.unwrap_or(relay.port),
        ))
    }

    /// `http.timeout`.
    pub fn http_timeout(&self) -> Duration {
        Duration::from_secs(self.values.http.timeout.into())
    }

    /// `http.connection_timeout`.
    pub fn http_connection_timeout(&self) -> Duration {
        Duration::from_secs(self.values.http.connection_timeout.into())
    }

    /// `http.max_retry_interval`.
    pub fn http_max_retry_interval(&self) -> Duration {
        Duration::from_secs(self.values.http.max_retry_interval.into())
    }

    /// `http.auth_interval`; `None` when re-registration is disabled (`0` or null).
    pub fn http_auth_interval(&self) -> Option<Duration> {
        self.values
            .http
            .auth_interval
            .filter(|seconds| *seconds > 0)
            .map(Duration::from_secs)
    }

    /// `http.outage_grace_period`.
    pub fn http_outage_grace_period(&self) -> Duration {
        Duration::from_secs(self.values.http.outage_grace_period)
    }

    /// `http.retry_delay`.
    pub fn http_retry_delay(&self) -> Duration {
        Duration::from_secs(self.values.http.retry_delay)
    }

    /// `http.project_failure_interval`.
    pub fn http_project_failure_interval(&self) -> Duration {
        Duration::from_secs(self.values.http.project_failure_interval)
    }

    /// `cache.project_expiry`.
    pub fn project_expiry(&self) -> Duration {
        Duration::from_secs(self.values.cache.project_expiry.into())
    }

    /// `cache.project_grace_period`.
    pub fn project_grace_period(&self) -> Duration {
        Duration::from_secs(self.values.cache.project_grace_period.into())
    }

    /// `cache.project_refresh_interval`.
    pub fn project_refresh_interval(&self) -> Option<Duration> {
        self.values
            .cache
            .project_refresh_interval
            .map(|seconds| Duration::from_secs(seconds.into()))
    }

    /// `cache.relay_expiry`.
    pub fn relay_expiry(&self) -> Duration {
        Duration::from_secs(self.values.cache.relay_expiry.into())
    }

    /// `cache.miss_expiry`.
    pub fn miss_expiry(&self) -> Duration {
        Duration::from_secs(self.values.cache.miss_expiry.into())
    }

    /// `cache.batch_interval` (milliseconds).
    pub fn cache_batch_interval(&self) -> Duration {
        Duration::from_millis(self.values.cache.batch_interval.into())
    }

    /// `cache.downstream_relays_batch_interval` (milliseconds).
    pub fn downstream_relays_batch_interval(&self) -> Duration {
        Duration::from_millis(self.values.cache.downstream_relays_batch_interval.into())
    }

    /// `cache.global_config_fetch_interval`.
    pub fn global_config_fetch_interval(&self) -> Duration {
        Duration::from_secs(self.values.cache.global_config_fetch_interval.into())
    }

    /// `limits.query_timeout`.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_secs(self.values.limits.query_timeout)
    }

    /// `limits.shutdown_timeout`.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.values.limits.shutdown_timeout)
    }

    /// `limits.keepalive_timeout`.
    pub fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.values.limits.keepalive_timeout)
    }

    /// `limits.idle_timeout`.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.values.limits.idle_timeout.map(Duration::from_secs)
    }

    /// `auth.signature_max_age`.
    pub fn signature_max_age(&self) -> Duration {
        Duration::from_secs(self.values.auth.signature_max_age)
    }

    /// `relay.config_reload_interval`; `0` means every 50 ms, `None` disables reloading.
    /// Reloading is always off without a config directory.
    pub fn config_reload_interval(&self) -> Option<Duration> {
        self.path.as_ref()?;
        self.values
            .relay
            .config_reload_interval
            .map(|seconds| match seconds {
                0 => FASTEST_RELOAD_INTERVAL,
                seconds => Duration::from_secs(seconds),
            })
    }

    /// `health.refresh_interval_ms`.
    pub fn health_refresh_interval(&self) -> Duration {
        Duration::from_millis(self.values.health.refresh_interval_ms)
    }

    /// `health.probe_timeout_ms`.
    pub fn health_probe_timeout(&self) -> Duration {
        Duration::from_millis(self.values.health.probe_timeout_ms)
    }

    /// `health.memory_stat_refresh_frequency_ms`.
    pub fn health_memory_refresh_interval(&self) -> Duration {
        Duration::from_millis(self.values.health.memory_stat_refresh_frequency_ms)
    }

    /// `spool.envelopes.max_envelope_delay_secs`.
    pub fn max_envelope_delay(&self) -> Duration {
        Duration::from_secs(self.values.spool.envelopes.max_envelope_delay_secs)
    }

    /// `aggregator.bucket_interval`.
    pub fn aggregator_bucket_interval(&self) -> Duration {
        Duration::from_secs(self.values.aggregator.bucket_interval.into())
    }

    /// `aggregator.initial_delay`.
    pub fn aggregator_initial_delay(&self) -> Duration {
        Duration::from_secs(self.values.aggregator.initial_delay.into())
    }

    /// `global_config.json` in the config directory (or the working directory).
    pub fn global_config_path(&self) -> PathBuf {
        self.resolve(Path::new(GLOBAL_CONFIG_FILE_NAME))
    }

    /// *Relay extension*: the directory of static project configs,
    /// `<config dir>/projects` (or `projects` in the working directory).
    pub fn static_projects_dir(&self) -> PathBuf {
        self.resolve(Path::new(STATIC_PROJECTS_DIR_NAME))
    }

    /// *Relay extension*: the static config file of a project,
    /// `<config dir>/projects/<project_id>.json`.
    pub fn static_project_config_path(&self, project_id: u64) -> PathBuf {
        self.static_projects_dir()
            .join(format!("{project_id}.json"))
    }

    /// *Relay extension*: `output.directory` resolved against the config directory, when
    /// envelope output to files is configured.
    pub fn output_directory(&self) -> Option<PathBuf> {
        let directory = self.values.output.directory.as_deref()?;
        Some(self.resolve(directory))
    }

    /// *Relay extension*: `<output.directory>/envelopes`, where envelope files are written.
    pub fn output_envelopes_dir(&self) -> Option<PathBuf> {
        Some(self.output_directory()?.join(OUTPUT_ENVELOPES_DIR_NAME))
    }

    /// *Relay extension*: `<output.directory>/topics`, where a processing relay without Kafka
    /// writes one line-delimited file per topic.
    pub fn output_topics_dir(&self) -> Option<PathBuf> {
        Some(self.output_directory()?.join(OUTPUT_TOPICS_DIR_NAME))
    }

    /// `limits.max_thread_count` (defaults to the number of CPUs).
    pub fn max_thread_count(&self) -> usize {
        self.values.limits.max_thread_count
    }

    /// `spool.envelopes.path`, resolved against the config directory.
    pub fn spool_path(&self) -> Option<PathBuf> {
        let path = self.values.spool.envelopes.path.as_deref()?;
        Some(self.resolve(path))
    }

    /// The GeoIP database: `geoip.path`, else the legacy `processing.geoip_path`, resolved
    /// against the config directory.
    pub fn geoip_path(&self) -> Option<PathBuf> {
        let path = self.values.geoip.path.as_deref().or(self
            .values
            .processing
            .geoip_path
            .as_deref())?;
        Some(self.resolve(path))
    }

    /// `relay.override_project_ids`: whether a request's project id may differ from the
    /// project config's.
    pub fn override_project_ids(&self) -> bool {
        self.values.relay.override_project_ids
    }

    /// `relay.advertised_upstream`, the upstream served to downstream relays, if set.
    pub fn advertised_upstream(&self) -> Option<&UpstreamDescriptor> {
        self.values.relay.advertised_upstream.as_ref()
    }

    /// `http.host_header`: the `Host` header sent upstream instead of the upstream's host.
    pub fn http_host_header(&self) -> Option<&str> {
        self.values.http.host_header.as_deref()
    }

    /// `http.encoding`: the content encoding of request bodies sent upstream.
    pub fn http_encoding(&self) -> HttpEncoding {
        self.values.http.encoding
    }

    /// Whether the forwarder passes unknown `/api/` requests upstream: `http.forward`, and
    /// never in a processing relay (config.md §4.2).
    pub fn forwarder_enabled(&self) -> bool {
        self.values.http.forward && !self.processing_enabled()
    }

    /// `cache.batch_size`: project keys per project config request.
    pub fn cache_batch_size(&self) -> usize {
        self.values.cache.batch_size
    }

    /// `cache.project_request_full_config`: whether full project configs are requested even
    /// without processing.
    pub fn project_request_full_config(&self) -> bool {
        self.values.cache.project_request_full_config
    }

    /// `limits.max_concurrent_requests`: concurrent requests to the upstream.
    pub fn max_concurrent_requests(&self) -> usize {
        self.values.limits.max_concurrent_requests
    }

    /// `limits.max_concurrent_queries`: concurrent project config requests.
    pub fn max_concurrent_queries(&self) -> usize {
        self.values.limits.max_concurrent_queries
    }

    /// `limits.max_event_size`.
    pub fn max_event_size(&self) -> ByteSize {
        self.values.limits.max_event_size
    }

    /// `limits.max_attachment_size`: one attachment.
    pub fn max_attachment_size(&self) -> ByteSize {
        self.values.limits.max_attachment_size
    }

    /// `limits.max_attachment_count`: attachments per envelope.
    pub fn max_attachment_count(&self) -> usize {
        self.values.limits.max_attachment_count
    }

    /// `limits.max_attachments_size`: all attachments of an envelope together.
    pub fn max_attachments_size(&self) -> ByteSize {
        self.values.limits.max_attachments_size
    }

    /// `limits.max_upload_size`.
    pub fn max_upload_size(&self) -> ByteSize {
        self.values.limits.max_upload_size
    }

    /// `limits.max_client_reports_size`.
    pub fn max_client_reports_size(&self) -> ByteSize {
        self.values.limits.max_client_reports_size
    }

    /// `limits.max_client_reports_count`.
    pub fn max_client_reports_count(&self) -> usize {
        self.values.limits.max_client_reports_count
    }

    /// `limits.max_check_in_size`.
    pub fn max_check_in_size(&self) -> ByteSize {
        self.values.limits.max_check_in_size
    }

    /// `limits.max_envelope_size`.
    pub fn max_envelope_size(&self) -> ByteSize {
        self.values.limits.max_envelope_size
    }

    /// `limits.max_sessions_size`.
    pub fn max_sessions_size(&self) -> ByteSize {
        self.values.limits.max_sessions_size
    }

    /// `limits.max_session_count`.
    pub fn max_session_count(&self) -> usize {
        self.values.limits.max_session_count
    }

    /// `limits.max_api_payload_size`: forwarded API requests.
    pub fn max_api_payload_size(&self) -> ByteSize {
        self.values.limits.max_api_payload_size
    }

    /// `limits.max_api_file_upload_size`: forwarded release file and dSYM uploads.
    pub fn max_api_file_upload_size(&self) -> ByteSize {
        self.values.limits.max_api_file_upload_size
    }

    /// `limits.max_api_chunk_upload_size`: forwarded chunk uploads.
    pub fn max_api_chunk_upload_size(&self) -> ByteSize {
        self.values.limits.max_api_chunk_upload_size
    }

    /// `limits.max_profile_size`.
    pub fn max_profile_size(&self) -> ByteSize {
        self.values.limits.max_profile_size
    }

    /// `limits.max_trace_metric_size`.
    pub fn max_trace_metric_size(&self) -> ByteSize {
        self.values.limits.max_trace_metric_size
    }

    /// `limits.max_log_size`.
    pub fn max_log_size(&self) -> ByteSize {
        self.values.limits.max_log_size
    }

    /// `limits.max_span_size`.
    pub fn max_span_size(&self) -> ByteSize {
        self.values.limits.max_span_size
    }

    /// `limits.max_standalone_span_count`.
    pub fn max_standalone_span_count(&self) -> usize {
        self.values.limits.max_standalone_span_count
    }

    /// `limits.max_container_size`.
    pub fn max_container_size(&self) -> ByteSize {
        self.values.limits.max_container_size
    }

    /// `limits.max_metric_buckets_size`.
    pub fn max_metric_buckets_size(&self) -> ByteSize {
        self.values.limits.max_metric_buckets_size
    }

    /// `limits.max_replay_compressed_size`.
    pub fn max_replay_compressed_size(&self) -> ByteSize {
        self.values.limits.max_replay_compressed_size
    }

    /// `limits.max_replay_message_size`.
    pub fn max_replay_message_size(&self) -> ByteSize {
        self.values.limits.max_replay_message_size
    }

    /// `limits.max_connections`: open connections of the main listener; `None` is
    /// unlimited.
    pub fn max_connections(&self) -> Option<usize> {
        self.values.limits.max_connections
    }

    /// `limits.tcp_listen_backlog`.
    pub fn tcp_listen_backlog(&self) -> u32 {
        self.values.limits.tcp_listen_backlog
    }

    /// `auth.ready`: what the readiness check requires of the upstream authentication.
    pub fn auth_ready(&self) -> AuthReady {
        self.values.auth.ready
    }

    /// The entry of `auth.static_relays` for `relay_id`, if any.
    pub fn static_relay(&self, relay_id: &RelayId) -> Option<&RelayInfo> {
        self.values.auth.static_relays.get(relay_id)
    }

    /// The `health` section (probe settings; applied again on config reload).
    pub fn health(&self) -> &HealthConfig {
        &self.values.health
    }

    /// `spool.envelopes.max_memory_size`: memory budget of buffered envelopes.
    pub fn spool_max_memory_size(&self) -> ByteSize {
        self.values.spool.envelopes.max_memory_size
    }

    /// `spool.envelopes.max_buffered_envelopes`.
    pub fn spool_max_buffered_envelopes(&self) -> usize {
        self.values.spool.envelopes.max_buffered_envelopes
    }

    /// `spool.envelopes.max_queued_for_upstream`.
    pub fn spool_max_queued_for_upstream(&self) -> usize {
        self.values.spool.envelopes.max_queued_for_upstream
    }

    /// `spool.envelopes.admission_timeout_ms`.
    pub fn spool_admission_timeout(&self) -> Duration {
        Duration::from_millis(self.values.spool.envelopes.admission_timeout_ms)
    }

    /// The `aggregator` section (the metrics aggregator of a processing relay).
    pub fn aggregator_config(&self) -> &AggregatorConfig {
        &self.values.aggregator
    }

    /// `aggregator.max_secs_in_past`, in seconds.
    pub fn aggregator_max_secs_in_past(&self) -> u64 {
        self.values.aggregator.max_secs_in_past
    }

    /// `aggregator.max_secs_in_future`, in seconds.
    pub fn aggregator_max_secs_in_future(&self) -> u64 {
        self.values.aggregator.max_secs_in_future
    }

    /// `aggregator.max_flush_bytes`.
    pub fn aggregator_max_flush_bytes(&self) -> usize {
        self.values.aggregator.max_flush_bytes
    }

    /// `outcomes.source`, the `source` of emitted outcomes, if set.
    pub fn outcome_source(&self) -> Option<&str> {
        self.values.outcomes.source.as_deref()
    }

    /// The `processing` section (Kafka producers and topics read it whole).
    pub fn processing_config(&self) -> &ProcessingConfig {
        &self.values.processing
    }

    /// `normalization.level`: `full` also runs the steps that are not forward compatible.
    pub fn normalization_level(&self) -> NormalizationLevel {
        self.values.normalization.level
    }

    /// `processing.max_secs_in_future`: tolerance for timestamps in the future, in seconds.
    pub fn max_secs_in_future(&self) -> u32 {
        self.values.processing.max_secs_in_future
    }

    /// `processing.max_session_secs_in_past`: age of the oldest accepted session timestamp, in
    /// seconds.
    pub fn max_session_secs_in_past(&self) -> u32 {
        self.values.processing.max_session_secs_in_past
    }

    /// `processing.kafka_validate_topics`.
    pub fn kafka_validate_topics(&self) -> bool {
        self.values.processing.kafka_validate_topics
    }

    /// `processing.attachment_chunk_size`.
    pub fn attachment_chunk_size(&self) -> ByteSize {
        self.values.processing.attachment_chunk_size
    }

    /// `processing.redis`, the Redis deployment(s), if configured.
    pub fn redis(&self) -> Option<&RedisConfig> {
        self.values.processing.redis.as_ref()
    }

    /// `processing.projectconfig_cache_prefix`: the Redis key prefix of project configs.
    pub fn projectconfig_cache_prefix(&self) -> &str {
        &self.values.processing.projectconfig_cache_prefix
    }

    /// The `logging` section.
    pub fn logging(&self) -> &LoggingConfig {
        &self.values.logging
    }

    /// The `sentry` section (internal error reporting).
    pub fn sentry(&self) -> &SentryConfig {
        &self.values.sentry
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::byte_size::ByteSize;
    use crate::values::{HttpEncoding, NormalizationLevel};

    const SPEC_SECRET: &str = "nnwTS8IoPP2SpW377KSouj5QUaSuTZ_ABlvr_dwEx5o";
    const SPEC_PUBLIC: &str = "1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4";
    const SPEC_ID: &str = "9568a6c9-13b0-4c26-b46a-0a863ab2048e";

    /// The development configuration of `config.md` §3.
    const SPEC_EXAMPLE: &str = r#"
relay:
  upstream: "http://127.0.0.1:9000"
  host: 127.0.0.1
  port: 3001
sentry:
  dsn: "http://a1b2c3d4e5f60718293a4b5c6d7e8f90@127.0.0.1:9000/666"
  enabled: true
limits:
  max_api_file_upload_size: "1MiB"
  max_thread_count: 1
cache:
  batch_interval: 0
logging:
  level: trace
http:
  timeout: 2
processing:
  enabled: false
  kafka_config: []
  redis: ""
outcomes:
  emit_outcomes: true
aggregator:
  bucket_interval: 1
  initial_delay: 0
  shift_key: none
auth:
  static_relays:
    "9568a6c9-13b0-4c26-b46a-0a863ab2048e":
      public_key: "1Y3H7OzhjSKfGEvBq-N8Lc2-QnH07gQ4rWKDYy3WLG4"
      internal: true
"#;

    fn no_env(_: &str) -> Result<String, std::env::VarError> {
        Err(std::env::VarError::NotPresent)
    }

    fn parse_with_env(
        yaml: &str,
        env: &dyn Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<ConfigValues, ConfigError> {
        parse_values(yaml, INLINE_SOURCE_LABEL, Path::new("/"), env)
    }

    fn spec_credentials() -> Credentials {
        Credentials {
            secret_key: SPEC_SECRET.parse().unwrap(),
            public_key: SPEC_PUBLIC.parse().unwrap(),
            id: SPEC_ID.parse().unwrap(),
        }
    }

    fn write_config_dir(config_yml: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), config_yml).unwrap();
        dir
    }

    #[test]
    fn spec_example_parses() {
        let config = Config::from_yaml_str(SPEC_EXAMPLE).unwrap();
        let values = config.values();
        assert_eq!(
            config.upstream_descriptor().to_string(),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(config.listen_addr(), "127.0.0.1:3001".parse().unwrap());
        assert!(values.sentry.enabled);
        assert_eq!(values.limits.max_api_file_upload_size.as_bytes(), 1 << 20);
        assert_eq!(values.limits.max_thread_count, 1);
        assert_eq!(config.cache_batch_interval(), Duration::ZERO);
        assert_eq!(values.logging.level, LogLevel::Trace);
        assert_eq!(config.http_timeout(), Duration::from_secs(2));
        assert_eq!(
            values.processing.redis,
            Some(RedisConfig::Unified(RedisServerConfig::Url(String::new())))
        );
        assert_eq!(config.emit_outcomes(), EmitOutcomes::True);
        assert_eq!(values.aggregator.bucket_interval, 1);
        assert_eq!(
            values.aggregator.flush_batching,
            crate::aggregator::FlushBatching::None
        );
        let relay = &values.auth.static_relays[&SPEC_ID.parse::<RelayId>().unwrap()];
        assert_eq!(relay.public_key.to_string(), SPEC_PUBLIC);
        assert!(relay.internal);
    }

    #[test]
    fn empty_and_comment_only_files_mean_defaults() {
        for yaml in ["", "\n  \n", "# nothing here\n", "~"] {
            let config = Config::from_yaml_str(yaml).unwrap();
            assert_eq!(config.values(), &ConfigValues::default(), "{yaml:?}");
        }
    }

    #[test]
    fn unknown_keys_are_ignored_at_every_level() {
        let yaml = "
cache:
  event_buffer_expiry: 5
aggregator:
  flush_interval: 3
unknown_section:
  anything: [1, 2]
relay:
  port: 4000
  tls_port: 1
";
        let config = Config::from_yaml_str(yaml).unwrap();
        assert_eq!(config.values().relay.port, 4000);
        assert_eq!(config.values().cache, crate::values::CacheConfig::default());
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let error = Config::from_yaml_str("relay:\n  port: 3000\n bad: [\n").unwrap_err();
        let ConfigError::Parse { file, location, .. } = &error else {
            panic!("expected a parse error, got {error:?}");
        };
        assert_eq!(file, "<inline>");
        assert!(location.is_some());
        assert!(error
            .to_string()
            .starts_with("could not parse config file (file <inline>, line "));
    }

    #[test]
    fn type_errors_are_fatal_and_located() {
        let error = Config::from_yaml_str("relay:\n  mode: managed\n  port: many\n").unwrap_err();
        let ConfigError::Parse {
            location, message, ..
        } = &error
        else {
            panic!("expected a parse error, got {error:?}");
        };
        assert_eq!(*location, Some(YamlLocation { line: 3, column: 9 }));
        assert!(message.contains("relay.port"), "{message}");
        assert_eq!(
            error.to_string(),
            format!("could not parse config file (file <inline>, line 3, column 9): {message}")
        );
    }

    #[test]
    fn errors_without_position_name_the_key_path() {
        // Plain numbers are numbers, also where a string is expected.
        let error =
            Config::from_yaml_str("relay:\n  port: 1\nsentry:\n  environment: 123\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "could not parse config file (file <inline>): sentry.environment: invalid type: \
             integer `123`, expected a string"
        );
    }

    #[test]
    fn invalid_enum_values_are_fatal() {
        let error = Config::from_yaml_str("relay:\n  mode: capture\n").unwrap_err();
        assert!(error
            .to_string()
            .contains("unknown variant `capture`, expected one of `managed`, `proxy`, `static`"));
        assert!(Config::from_yaml_str("http:\n  encoding: lzma\n").is_err());
        assert!(Config::from_yaml_str("outcomes:\n  emit_outcomes: maybe\n").is_err());
        assert!(Config::from_yaml_str("auth:\n  ready: never\n").is_err());
        assert!(Config::from_yaml_str("normalization:\n  level: extreme\n").is_err());
    }

    #[test]
    fn host_must_be_a_literal_ip() {
        assert!(Config::from_yaml_str("relay:\n  host: localhost\n").is_err());
        let config = Config::from_yaml_str("relay:\n  host: '::1'\n  port: 3001\n").unwrap();
        assert_eq!(config.listen_addr(), "[::1]:3001".parse().unwrap());
    }

    #[test]
    fn listen_addresses_and_internal_fallbacks() {
        let config = Config::from_yaml_str("").unwrap();
        assert_eq!(config.listen_addr(), "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.internal_listen_addr(), None);

        let config = Config::from_yaml_str("relay:\n  internal_port: 3010\n").unwrap();
        assert_eq!(
            config.internal_listen_addr(),
            Some("127.0.0.1:3010".parse().unwrap())
        );
        let config = Config::from_yaml_str(
            "relay:\n  host: 10.0.0.1\n  port: 3001\n  internal_host: 10.0.0.2\n",
        )
        .unwrap();
        assert_eq!(
            config.internal_listen_addr(),
            Some("10.0.0.2:3001".parse().unwrap())
        );
    }

    #[test]
    fn byte_sizes_in_the_config() {
        let config = Config::from_yaml_str(
            "limits:\n  max_event_size: 1.5MB\n  max_envelope_size: 1048576\n  max_replay_size: 1KB\n",
        )
        .unwrap();
        let limits = &config.values().limits;
        assert_eq!(limits.max_event_size.as_bytes(), 1_500_000);
        assert_eq!(limits.max_envelope_size.as_bytes(), 1_048_576);
        assert_eq!(limits.max_replay_uncompressed_size.as_bytes(), 1024);
        assert!(Config::from_yaml_str("limits:\n  max_event_size: 4294967296\n").is_err());
        assert!(Config::from_yaml_str("limits:\n  max_event_size: '4294967296'\n").is_err());
        assert!(Config::from_yaml_str("limits:\n  max_event_size: 4GiB\n").is_ok());
    }

    #[test]
    fn config_show_writes_defaults_and_given_units() {
        let config =
            Config::from_yaml_str("limits:\n  max_event_size: 20MB\nrelay:\n  mode: static\n")
                .unwrap();
        let yaml = config.to_yaml_string().unwrap();
        assert!(yaml.contains("max_event_size: 20MB"), "{yaml}");
        assert!(yaml.contains("max_check_in_size: 100KiB"), "{yaml}");
        assert!(yaml.contains("max_api_payload_size: 20MiB"), "{yaml}");
        assert!(yaml.contains("mode: static"), "{yaml}");
        assert!(yaml.contains("host: 127.0.0.1"), "{yaml}");
        assert!(yaml.contains("upstream: https://sentry.io/"), "{yaml}");
        assert!(!yaml.contains("secret_key"));
        let reparsed = Config::from_yaml_str(&yaml).unwrap();
        assert_eq!(reparsed.values().limits, config.values().limits);
        assert_eq!(reparsed.values().processing, config.values().processing);
        assert_eq!(reparsed.mode(), RelayMode::Static);
    }

    #[test]
    fn substitution_converts_to_the_target_type() {
        let env = |name: &str| match name {
            "PORT" => Ok("3001".to_owned()),
            "SIZE" => Ok("1TiB".to_owned()),
            "NUMBER" => Ok("123".to_owned()),
            "QUOTED" => Ok("\"123\"".to_owned()),
            "BOOL" => Ok("true".to_owned()),
            "MODE" => Ok("proxy".to_owned()),
            _ => Err(std::env::VarError::NotPresent),
        };
        let values = parse_with_env(
            "relay:\n  port: ${PORT}\n  mode: ${MODE}\nlimits:\n  max_envelope_size: ${SIZE}\n\
             sentry:\n  environment: ${QUOTED}\n  enabled: ${BOOL}\n",
            &env,
        )
        .unwrap();
        assert_eq!(values.relay.port, 3001);
        assert_eq!(values.relay.mode, RelayMode::Proxy);
        assert_eq!(values.limits.max_envelope_size.as_bytes(), 1 << 40);
        assert_eq!(values.sentry.environment.as_deref(), Some("123"));
        assert!(values.sentry.enabled);

        // A number where a string is expected is a type error; the message names the key.
        let error = parse_with_env("sentry:\n  environment: ${NUMBER}\n", &env).unwrap_err();
        assert_eq!(
            error.to_string(),
            "could not parse config file (file <inline>): sentry.environment: invalid type: \
             integer `123`, expected a string"
        );
        let error = parse_with_env("sentry:\n  environment: ${BOOL}\n", &env).unwrap_err();
        assert!(matches!(error, ConfigError::Parse { .. }), "{error:?}");

        // Embedded placeholders stay literal.
        let values = parse_with_env("sentry:\n  environment: x${NUMBER}\n", &env).unwrap();
        assert_eq!(values.sentry.environment.as_deref(), Some("x${NUMBER}"));
    }

    #[test]
    fn missing_variable_is_fatal() {
        let error = parse_with_env("relay:\n  port: ${NOT_SET}\n", &no_env).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Substitution {
                source: SubstitutionError::MissingVariable(_),
                ..
            }
        ));
    }

    #[test]
    fn file_substitution_is_relative_to_the_config_dir() {
        let dir = write_config_dir(
            "relay:\n  port: ${file:port}\nsentry:\n  environment: ${file:environment}\n",
        );
        std::fs::write(dir.path().join("port"), "3005").unwrap();
        std::fs::write(dir.path().join("environment"), "staging\n").unwrap();
        let config = Config::from_path(dir.path(), true).unwrap();
        assert_eq!(config.values().relay.port, 3005);
        assert_eq!(
            config.values().sentry.environment.as_deref(),
            Some("staging\n")
        );

        // Untrimmed contents: `42\n` is not a number.
        std::fs::write(dir.path().join("port"), "42\n").unwrap();
        assert!(Config::from_path(dir.path(), true).is_err());

        std::fs::remove_file(dir.path().join("port")).unwrap();
        let error = Config::from_path(dir.path(), true).unwrap_err();
        assert!(
            matches!(error, ConfigError::Substitution { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn explicit_directory_requires_config_yml() {
        let dir = tempfile::tempdir().unwrap();
        let error = Config::from_path(dir.path(), true).unwrap_err();
        let expected = format!(
            "could not open config file (file {}/config.yml)",
            dir.path().display()
        );
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn implicit_missing_directory_means_defaults_without_directory() {
        let dir = tempfile::tempdir().unwrap();
        // Credentials next to a missing config.yml are not read.
        std::fs::write(
            dir.path().join(CREDENTIALS_FILE_NAME),
            spec_credentials().to_json_pretty(),
        )
        .unwrap();
        let mut config = Config::from_path(dir.path(), false).unwrap();
        assert_eq!(config.path(), None);
        assert_eq!(config.credentials(), None);
        assert_eq!(config.values(), &ConfigValues::default());
        assert_eq!(config.config_reload_interval(), None);
        assert_eq!(
            config.global_config_path(),
            PathBuf::from("global_config.json")
        );

        // Credentials commands only change the in-memory state.
        std::fs::remove_file(dir.path().join(CREDENTIALS_FILE_NAME)).unwrap();
        assert!(config
            .replace_credentials(Some(Credentials::generate()))
            .unwrap());
        assert!(config.credentials().is_some());
        assert!(!dir.path().join(CREDENTIALS_FILE_NAME).exists());
    }

    #[test]
    fn relative_directories_become_absolute() {
        let dir = write_config_dir("");
        let cwd = std::env::current_dir().unwrap();
        let relative = pathdiff(dir.path(), &cwd);
        let config = Config::from_path(&relative, true).unwrap();
        assert!(config.path().unwrap().is_absolute());
        assert_eq!(
            config.path().unwrap().canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    /// A relative path from `base` to `target` via `..` components.
    fn pathdiff(target: &Path, base: &Path) -> PathBuf {
        let mut relative = PathBuf::new();
        for _ in base.components().skip(1) {
            relative.push("..");
        }
        relative.join(target.strip_prefix("/").unwrap())
    }

    #[test]
    fn empty_config_file_with_credentials() {
        let dir = write_config_dir("");
        std::fs::write(
            dir.path().join(CREDENTIALS_FILE_NAME),
            spec_credentials().to_json_pretty(),
        )
        .unwrap();
        let config = Config::from_path(dir.path(), false).unwrap();
        assert_eq!(config.path(), Some(dir.path()));
        assert_eq!(config.credentials(), Some(&spec_credentials()));
        assert_eq!(config.values(), &ConfigValues::default());
        assert_eq!(config.validate_for_run().map_err(|e| e.to_string()), Ok(()));
    }

    #[test]
    fn broken_credentials_file_is_an_error() {
        let dir = write_config_dir("");
        std::fs::write(dir.path().join(CREDENTIALS_FILE_NAME), "{").unwrap();
        let error = Config::from_path(dir.path(), true).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::CouldNotParseCredentials { .. }
        ));
        assert!(error
            .to_string()
            .starts_with("could not parse credentials file (file "));
    }

    #[test]
    fn credentials_file_format_and_permissions() {
        let dir = write_config_dir("");
        let mut config = Config::from_path(dir.path(), true).unwrap();
        assert!(config
            .replace_credentials(Some(spec_credentials()))
            .unwrap());
        let path = dir.path().join(CREDENTIALS_FILE_NAME);
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            written,
            format!(
                "{{\n  \"secret_key\": \"{SPEC_SECRET}\",\n  \"public_key\": \"{SPEC_PUBLIC}\",\n  \"id\": \"{SPEC_ID}\"\n}}\n"
            )
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Unchanged credentials are not rewritten.
        assert!(!config
            .replace_credentials(Some(spec_credentials()))
            .unwrap());

        let reloaded = Config::from_path(dir.path(), true).unwrap();
        assert_eq!(reloaded.credentials(), Some(&spec_credentials()));

        assert!(config.replace_credentials(None).unwrap());
        assert!(!path.exists());
        assert_eq!(config.credentials(), None);
        assert!(!config.replace_credentials(None).unwrap());
    }

    #[test]
    fn overrides_apply_to_their_targets() {
        let mut config = Config::from_yaml_str(
            "processing:\n  kafka_config:\n    - {name: bootstrap.servers, value: old:9092}\n",
        )
        .unwrap();
        config
            .apply_overrides(OverridableConfig {
                mode: Some("proxy".into()),
                instance: Some("canary".into()),
                log_level: Some("DEBUG".into()),
                log_format: Some("json".into()),
                upstream: Some("http://upstream:8080".into()),
                host: Some("0.0.0.0".into()),
                port: Some("3333".into()),
                processing: Some("TRUE".into()),
                kafka_url: Some("new:9092".into()),
                redis_url: Some("redis://redis:6379".into()),
                outcome_source: Some("edge".into()),
                shutdown_timeout: Some("42".into()),
                server_name: Some("relay-1".into()),
                ..Default::default()
            })
            .unwrap();
        let values = config.values();
        assert_eq!(values.relay.mode, RelayMode::Proxy);
        assert_eq!(values.relay.instance, RelayInstance::Canary);
        assert_eq!(values.logging.level, LogLevel::Debug);
        assert_eq!(values.logging.format, LogFormat::Json);
        assert_eq!(
            config.upstream_descriptor().to_string(),
            "http://upstream:8080/"
        );
        assert_eq!(config.listen_addr(), "0.0.0.0:3333".parse().unwrap());
        assert!(values.processing.enabled);
        assert_eq!(values.processing.kafka_config.len(), 1);
        assert_eq!(values.processing.kafka_config[0].value, "new:9092");
        assert_eq!(
            values.processing.redis,
            Some(RedisConfig::Unified(RedisServerConfig::Url(
                "redis://redis:6379".into()
            )))
        );
        assert_eq!(values.outcomes.source.as_deref(), Some("edge"));
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(42));
        assert_eq!(values.sentry.server_name.as_deref(), Some("relay-1"));
    }

    #[test]
    fn override_precedence_env_then_flags() {
        let mut config = Config::from_yaml_str("relay:\n  port: 3001\n  host: 10.0.0.1\n").unwrap();
        let env = OverridableConfig {
            port: Some("3002".into()),
            log_level: Some("warn".into()),
            ..Default::default()
        };
        let flags = OverridableConfig {
            port: Some("3003".into()),
            ..Default::default()
        };
        config.apply_overrides(env.overlaid_with(flags)).unwrap();
        assert_eq!(config.listen_addr(), "10.0.0.1:3003".parse().unwrap());
        assert_eq!(config.values().logging.level, LogLevel::Warn);
    }

    #[test]
    fn upstream_dsn_is_used_only_without_upstream_url() {
        let dsn = "https://abc@dsn-host:9443/12";
        let mut config = Config::default();
        config
            .apply_overrides(OverridableConfig {
                upstream_dsn: Some(dsn.into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            config.upstream_descriptor().to_string(),
            "https://dsn-host:9443/"
        );
        config
            .apply_overrides(OverridableConfig {
                upstream: Some("http://url-host/".into()),
                upstream_dsn: Some(dsn.into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(config.upstream_descriptor().to_string(), "http://url-host/");
    }

    #[test]
    fn processing_flag_values() {
        for (text, expected) in [
            ("true", true),
            ("1", true),
            ("True", true),
            ("false", false),
            ("0", false),
            ("", false),
            ("FALSE", false),
        ] {
            let mut config = Config::default();
            config.values_mut().processing.enabled = !expected;
            config
                .apply_overrides(OverridableConfig {
                    processing: Some(text.into()),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(config.processing_enabled(), expected, "{text:?}");
        }
    }

    #[test]
    fn invalid_override_values_name_the_field() {
        let cases: Vec<(OverridableConfig, &str)> = vec![
            (
                OverridableConfig {
                    processing: Some("yes".into()),
                    ..Default::default()
                },
                "invalid config value (field processing)",
            ),
            (
                OverridableConfig {
                    host: Some("localhost".into()),
                    ..Default::default()
                },
                "invalid config value (field host)",
            ),
            (
                OverridableConfig {
                    port: Some("70000".into()),
                    ..Default::default()
                },
                "invalid config value (field port)",
            ),
            (
                OverridableConfig {
                    upstream: Some("http://host/path".into()),
                    ..Default::default()
                },
                "invalid config value (field upstream)",
            ),
            (
                OverridableConfig {
                    upstream_dsn: Some("nonsense".into()),
                    ..Default::default()
                },
                "invalid config value (field upstream_dsn)",
            ),
            (
                OverridableConfig {
                    log_level: Some("loud".into()),
                    ..Default::default()
                },
                "invalid config value (field log_level)",
            ),
            (
                OverridableConfig {
                    log_format: Some("xml".into()),
                    ..Default::default()
                },
                "invalid config value (field log_format)",
            ),
            (
                OverridableConfig {
                    id: Some("not-a-uuid".into()),
                    public_key: Some(SPEC_PUBLIC.into()),
                    secret_key: Some(SPEC_SECRET.into()),
                    ..Default::default()
                },
                "invalid config value (field id)",
            ),
            (
                OverridableConfig {
                    id: Some(SPEC_ID.into()),
                    public_key: Some("AAAA".into()),
                    secret_key: Some(SPEC_SECRET.into()),
                    ..Default::default()
                },
                "invalid config value (field public_key)",
            ),
            (
                OverridableConfig {
                    id: Some(SPEC_ID.into()),
                    public_key: Some(SPEC_PUBLIC.into()),
                    secret_key: Some("!!".into()),
                    ..Default::default()
                },
                "invalid config value (field secret_key)",
            ),
            (
                OverridableConfig {
                    mode: Some("capture".into()),
                    ..Default::default()
                },
                "Relay mode must be one of: managed or proxy or static",
            ),
        ];
        for (overrides, message) in cases {
            let mut config = Config::default();
            let before = config.values().clone();
            let error = config.apply_overrides(overrides).unwrap_err();
            assert_eq!(error.to_string(), message);
            assert_eq!(config.values(), &before, "failed overrides change nothing");
        }
    }

    #[test]
    fn override_errors_leave_the_config_untouched() {
        let mut config = Config::default();
        let error = config
            .apply_overrides(OverridableConfig {
                port: Some("4000".into()),
                host: Some("not-an-ip".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(error.to_string(), "invalid config value (field host)");
        assert_eq!(config.values().relay.port, crate::values::DEFAULT_PORT);
    }

    #[test]
    fn mode_override_accepts_static() {
        let mut config = Config::default();
        config
            .apply_overrides(OverridableConfig {
                mode: Some("static".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(config.mode(), RelayMode::Static);
    }

    #[test]
    fn shutdown_timeout_override_ignores_non_integers() {
        let mut config = Config::default();
        config
            .apply_overrides(OverridableConfig {
                shutdown_timeout: Some("soon".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn credential_overrides_without_file_need_all_three() {
        let partial = [
            (Some(SPEC_ID), None, None),
            (None, Some(SPEC_PUBLIC), Some(SPEC_SECRET)),
            (Some(SPEC_ID), None, Some(SPEC_SECRET)),
        ];
        for (id, public_key, secret_key) in partial {
            let mut config = Config::default();
            let error = config
                .apply_overrides(OverridableConfig {
                    id: id.map(Into::into),
                    public_key: public_key.map(Into::into),
                    secret_key: secret_key.map(Into::into),
                    ..Default::default()
                })
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                "invalid config value (field incomplete credentials)"
            );
        }

        let mut config = Config::default();
        config
            .apply_overrides(OverridableConfig {
                id: Some(SPEC_ID.into()),
                public_key: Some(SPEC_PUBLIC.into()),
                secret_key: Some(SPEC_SECRET.into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(config.credentials(), Some(&spec_credentials()));
    }

    #[test]
    fn credential_overrides_with_file_replace_parts() {
        let dir = write_config_dir("");
        std::fs::write(
            dir.path().join(CREDENTIALS_FILE_NAME),
            spec_credentials().to_json_pretty(),
        )
        .unwrap();
        let mut config = Config::from_path(dir.path(), true).unwrap();
        let new_id = "00000000-0000-4000-8000-000000000001";
        config
            .apply_overrides(OverridableConfig {
                id: Some(new_id.into()),
                ..Default::default()
            })
            .unwrap();
        let credentials = config.credentials().unwrap();
        assert_eq!(credentials.id.to_string(), new_id);
        assert_eq!(credentials.public_key.to_string(), SPEC_PUBLIC);
        assert_eq!(credentials.secret_key.to_string(), SPEC_SECRET);
        // Overrides are not persisted.
        let on_disk = std::fs::read_to_string(dir.path().join(CREDENTIALS_FILE_NAME)).unwrap();
        assert!(on_disk.contains(SPEC_ID));
    }

    #[test]
    fn startup_checks() {
        let config = Config::default();
        assert_eq!(
            config.validate_for_run().unwrap_err().to_string(),
            "relay has no credentials, which are required in managed mode. Generate some with \
             \"relay credentials generate\" first."
        );
        let config =
            Config::from_yaml_str("relay:\n  mode: proxy\nprocessing:\n  enabled: true\n").unwrap();
        assert_eq!(
            config.validate_for_run().unwrap_err().to_string(),
            "Processing can only be enabled in managed mode."
        );
        let config = Config::from_yaml_str("relay:\n  mode: proxy\n").unwrap();
        assert!(config.validate_for_run().is_ok());
        let config = Config::from_yaml_str("relay:\n  mode: static\n").unwrap();
        assert!(config.validate_for_run().is_ok());
        // The embedded default: static processing without Kafka writes topic files.
        let config =
            Config::from_yaml_str("relay:\n  mode: static\nprocessing:\n  enabled: true\n")
                .unwrap();
        assert!(config.validate_for_run().is_ok());
        let config = Config::from_yaml_str(
            "relay:\n  mode: static\nprocessing:\n  enabled: true\n  kafka_config:\n    - {name: bootstrap.servers, value: k:9092}\n",
        )
        .unwrap();
        assert!(matches!(
            config.validate_for_run(),
            Err(ConfigError::ProcessingNotInManagedMode)
        ));
    }

    #[test]
    fn static_mode_reads_projects_from_the_config_dir() {
        let dir = write_config_dir("relay:\n  mode: static\n");
        let config = Config::from_path(dir.path(), true).unwrap();
        assert_eq!(config.mode(), RelayMode::Static);
        assert_eq!(
            config.static_project_config_path(42),
            dir.path().join("projects").join("42.json")
        );
    }

    #[test]
    fn output_directory_extension() {
        let dir = write_config_dir("output:\n  directory: out\n");
        let config = Config::from_path(dir.path(), true).unwrap();
        assert_eq!(config.output_directory(), Some(dir.path().join("out")));
        assert_eq!(
            config.output_envelopes_dir(),
            Some(dir.path().join("out").join("envelopes"))
        );
        let config = Config::from_yaml_str("output:\n  directory: /var/relay\n").unwrap();
        assert_eq!(
            config.output_envelopes_dir(),
            Some(PathBuf::from("/var/relay/envelopes"))
        );
        assert_eq!(Config::default().output_envelopes_dir(), None);
    }

    #[test]
    fn spool_memory_extension_keys() {
        let config = Config::from_yaml_str(
            "spool:\n  envelopes:\n    max_memory_size: 16MiB\n    max_buffered_envelopes: 50\n",
        )
        .unwrap();
        let spool = &config.values().spool.envelopes;
        assert_eq!(spool.max_memory_size, ByteSize::mebibytes(16));
        assert_eq!(spool.max_buffered_envelopes, 50);
    }

    #[test]
    fn derived_values_and_durations() {
        let config = Config::default();
        assert!(config.accept_unknown_items());
        assert_eq!(config.http_timeout(), Duration::from_secs(5));
        assert_eq!(config.http_connection_timeout(), Duration::from_secs(3));
        assert_eq!(config.http_max_retry_interval(), Duration::from_secs(60));
        assert_eq!(config.http_auth_interval(), Some(Duration::from_secs(600)));
        assert_eq!(config.http_outage_grace_period(), Duration::from_secs(10));
        assert_eq!(config.http_retry_delay(), Duration::from_secs(1));
        assert_eq!(
            config.http_project_failure_interval(),
            Duration::from_secs(90)
        );
        assert_eq!(config.project_expiry(), Duration::from_secs(300));
        assert_eq!(config.project_grace_period(), Duration::from_secs(120));
        assert_eq!(config.project_refresh_interval(), None);
        assert_eq!(config.relay_expiry(), Duration::from_secs(3600));
        assert_eq!(config.miss_expiry(), Duration::from_secs(60));
        assert_eq!(config.cache_batch_interval(), Duration::from_millis(100));
        assert_eq!(
            config.downstream_relays_batch_interval(),
            Duration::from_millis(100)
        );
        assert_eq!(
            config.global_config_fetch_interval(),
            Duration::from_secs(10)
        );
        assert_eq!(config.query_timeout(), Duration::from_secs(30));
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(10));
        assert_eq!(config.keepalive_timeout(), Duration::from_secs(5));
        assert_eq!(config.idle_timeout(), None);
        assert_eq!(config.signature_max_age(), Duration::from_secs(300));
        assert_eq!(
            config.health_refresh_interval(),
            Duration::from_millis(3000)
        );
        assert_eq!(config.health_probe_timeout(), Duration::from_millis(900));
        assert_eq!(
            config.health_memory_refresh_interval(),
            Duration::from_millis(100)
        );
        assert_eq!(config.max_envelope_delay(), Duration::from_secs(86_400));
        assert_eq!(config.aggregator_bucket_interval(), Duration::from_secs(10));
        assert_eq!(config.aggregator_initial_delay(), Duration::from_secs(30));
        assert_eq!(config.geoip_path(), None);
        assert_eq!(config.spool_path(), None);

        let config = Config::from_yaml_str(
            "processing:\n  enabled: true\n  geoip_path: legacy.mmdb\nhttp:\n  auth_interval: 0\n",
        )
        .unwrap();
        assert!(!config.accept_unknown_items());
        assert_eq!(config.http_auth_interval(), None);
        assert_eq!(config.geoip_path(), Some(PathBuf::from("legacy.mmdb")));
        let config = Config::from_yaml_str(
            "processing:\n  enabled: true\nrouting:\n  accept_unknown_items: true\ngeoip:\n  path: new.mmdb\n",
        )
        .unwrap();
        assert!(config.accept_unknown_items());
        assert_eq!(config.geoip_path(), Some(PathBuf::from("new.mmdb")));
        // Both set: `geoip.path` wins over the legacy key.
        let config = Config::from_yaml_str(
            "processing:\n  geoip_path: legacy.mmdb\ngeoip:\n  path: new.mmdb\n",
        )
        .unwrap();
        assert_eq!(config.geoip_path(), Some(PathBuf::from("new.mmdb")));
    }

    #[test]
    fn reload_interval_needs_a_directory() {
        let dir = write_config_dir("relay:\n  config_reload_interval: 0\n");
        let config = Config::from_path(dir.path(), true).unwrap();
        assert_eq!(
            config.config_reload_interval(),
            Some(Duration::from_millis(50))
        );
        let dir = write_config_dir("relay:\n  config_reload_interval: 7\n");
        let config = Config::from_path(dir.path(), true).unwrap();
        assert_eq!(
            config.config_reload_interval(),
            Some(Duration::from_secs(7))
        );
        let config = Config::from_yaml_str("relay:\n  config_reload_interval: 7\n").unwrap();
        assert_eq!(config.config_reload_interval(), None);
    }

    #[test]
    fn sections_parse_from_yaml() {
        let yaml = "
http:
  encoding: identity
normalization:
  level: full
metrics:
  statsd: 127.0.0.1:8125
  default_tags: {region: eu}
secondary_aggregators:
  - name: spans
    condition: {op: eq, field: namespace, value: spans}
upload:
  max_age: -1
";
        let config = Config::from_yaml_str(yaml).unwrap();
        let values = config.values();
        assert_eq!(values.http.encoding, HttpEncoding::Identity);
        assert_eq!(values.normalization.level, NormalizationLevel::Full);
        assert_eq!(values.metrics.statsd.as_deref(), Some("127.0.0.1:8125"));
        assert_eq!(
            values.metrics.default_tags,
            BTreeMap::from([("region".to_owned(), "eu".to_owned())])
        );
        assert_eq!(values.secondary_aggregators.len(), 1);
        assert_eq!(values.upload.max_age, -1);
    }
}
