//! The command line of config.md §6.
//!
//! Usage errors exit with 2 (clap's convention, as Relay's); runtime errors print
//! `error: <message>` plus one `  caused by: <cause>` line per cause and exit with 1.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use relay_config::{Config, Credentials, OverridableConfig, RelayMode};

use crate::{logging, RELAY_VERSION};

/// Default configuration directory, relative to the working directory.
const DEFAULT_CONFIG_DIR: &str = ".relay";

#[derive(Parser, Debug)]
#[command(
    name = "relay",
    version = RELAY_VERSION,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = false,
    about = "The Sentry relay server",
    disable_help_subcommand = true
)]
struct Cli {
    /// The path to the config folder.
    #[arg(short = 'c', long = "config", global = true, value_name = "CONFIG")]
    config: Option<PathBuf>,
    /// The relay log level.
    #[arg(long = "log-level", global = true, value_enum)]
    log_level: Option<CliLogLevel>,
    /// The format of the log output.
    #[arg(long = "log-format", global = true, value_enum)]
    log_format: Option<CliLogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CliLogLevel {
    Info,
    Warn,
    Error,
    Debug,
    Trace,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CliLogFormat {
    Auto,
    Pretty,
    Simplified,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the relay.
    Run(Box<RunArgs>),
    /// Manage the relay credentials.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Manage the relay config.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage project configs in the Redis cache read by processing relays.
    #[command(subcommand)]
    #[cfg(feature = "processing")]
    ProjectConfig(crate::cli_project_config::ProjectConfigCommand),
    /// Perform a health check against a running relay.
    Healthcheck(HealthcheckArgs),
    /// Generate shell completion files.
    GenerateCompletions(CompletionArgs),
    /// Normalize one event JSON like Sentry's `StoreNormalizer` and print it with `_meta`.
    ///
    /// A development and test tool: the normalization steps of relay-normalization with the
    /// options given here (StoreNormalizer's defaults otherwise), outside the processing
    /// pipeline. No config is read.
    Normalize(NormalizeArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CliMode {
    Managed,
    Proxy,
    Static,
}

#[derive(Args, Debug, Default)]
struct RunArgs {
    /// The relay mode.
    #[arg(long, value_enum)]
    mode: Option<CliMode>,
    /// The secret key to set.
    #[arg(
        short = 's',
        long = "secret-key",
        requires = "public_key",
        allow_hyphen_values = true
    )]
    secret_key: Option<String>,
    /// The public key to set.
    #[arg(
        short = 'p',
        long = "public-key",
        requires = "secret_key",
        allow_hyphen_values = true
    )]
    public_key: Option<String>,
    /// The relay id to set.
    #[arg(short = 'i', long = "id")]
    id: Option<String>,
    /// The upstream server URL.
    #[arg(short = 'u', long = "upstream", conflicts_with = "upstream_dsn")]
    upstream: Option<String>,
    /// The upstream as a DSN.
    #[arg(long = "upstream-dsn")]
    upstream_dsn: Option<String>,
    /// The host to bind to.
    #[arg(short = 'H', long = "host")]
    host: Option<String>,
    /// The port to bind to.
    #[arg(short = 'P', long = "port")]
    port: Option<String>,
    /// Enable processing.
    #[arg(long = "processing", conflicts_with = "no_processing")]
    processing: bool,
    /// Disable processing.
    #[arg(long = "no-processing")]
    no_processing: bool,
    /// Kafka bootstrap servers.
    #[arg(long = "kafka-broker-url")]
    kafka_broker_url: Option<String>,
    /// Redis server URL.
    #[arg(long = "redis-url")]
    redis_url: Option<String>,
    /// Outcome source id.
    #[arg(long = "source-id", env = "RELAY_SOURCE_ID")]
    source_id: Option<String>,
    /// Graceful shutdown timeout in seconds.
    #[arg(long = "shutdown-timeout")]
    shutdown_timeout: Option<String>,
    /// The instance type.
    #[arg(long = "instance")]
    instance: Option<String>,
    /// The server name reported to Sentry.
    #[arg(long = "server-name")]
    server_name: Option<String>,
}

#[derive(Subcommand, Debug)]
enum CredentialsCommand {
    /// Generate new credentials.
    Generate {
        /// Overwrite existing credentials.
        #[arg(long)]
        overwrite: bool,
        /// Print the credentials instead of writing them.
        #[arg(long)]
        stdout: bool,
    },
    /// Show the stored credentials.
    Show,
    /// Remove the stored credentials.
    Remove {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Set parts of the credentials.
    Set {
        // Base64url keys may start with `-`; they are values, not flags.
        #[arg(short = 's', long = "secret-key", allow_hyphen_values = true)]
        secret_key: Option<String>,
        #[arg(short = 'p', long = "public-key", allow_hyphen_values = true)]
        public_key: Option<String>,
        #[arg(short = 'i', long = "id")]
        id: Option<String>,
        /// Accepted and ignored.
        #[arg(long)]
        mode: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Initialize a new config directory.
    Init,
    /// Show the effective config.
    Show {
        #[arg(short = 'f', long = "format", value_enum, default_value = "yaml")]
        format: ShowFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ShowFormat {
    Yaml,
    Debug,
}

#[derive(Clone, Copy, Debug, ValueEnum, Default)]
enum HealthMode {
    #[default]
    Live,
    Ready,
}

#[derive(Args, Debug)]
struct HealthcheckArgs {
    #[arg(long, value_enum, default_value = "live")]
    mode: HealthMode,
    /// Timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Address to check, `ip:port`.
    #[arg(long)]
    addr: Option<String>,
}

/// `relay normalize`: the options of Sentry's Python `StoreNormalizer` that
/// [`relay_normalization::NormalizationConfig`] has so far.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("input").required(true).args(["stdin", "file"])))]
struct NormalizeArgs {
    /// Read the event JSON from standard input.
    #[arg(long)]
    stdin: bool,
    /// Read the event JSON from this file.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Renormalize an already normalized event (StoreNormalizer `is_renormalize=True`): skips
    /// the schema checks; unknown attributes are kept and no `errors` entries are added unless
    /// --remove-other / --event-errors ask for them.
    #[arg(long)]
    renormalize: bool,
    /// Cut strings and databags to their limits (StoreNormalizer `enable_trimming=True`). Off
    /// by default, as in StoreNormalizer; the server pipeline will trim.
    #[arg(long)]
    enable_trimming: bool,
    /// Remove unknown attributes, reporting them as `invalid_attribute` (StoreNormalizer
    /// `remove_other=True`). Default: on unless --renormalize.
    #[arg(long, conflicts_with = "keep_other")]
    remove_other: bool,
    /// Keep unknown attributes (StoreNormalizer `remove_other=False`).
    #[arg(long)]
    keep_other: bool,
    /// Append one `errors` entry per error in `_meta`. Default: on unless --renormalize
    /// (StoreNormalizer has no option for it and always follows `is_renormalize`).
    #[arg(long, conflicts_with = "no_event_errors")]
    event_errors: bool,
    /// Do not append `errors` entries.
    #[arg(long)]
    no_event_errors: bool,
    /// When the event was received (StoreNormalizer `received_at`), RFC 3339 or Unix seconds:
    /// becomes `received` and the reference of the clock-drift correction and the timestamp
    /// limits. Default: now.
    #[arg(long, value_name = "TIME", value_parser = parse_timestamp)]
    received: Option<relay_event::Timestamp>,
    /// The envelope's `sent_at` (StoreNormalizer `sent_at`), RFC 3339 or Unix seconds:
    /// timestamps are corrected for the client's clock drift against --received. Default: no
    /// correction.
    #[arg(long, value_name = "TIME", value_parser = parse_timestamp)]
    sent_at: Option<relay_event::Timestamp>,
    /// Timestamps more than this many seconds before --received become `past_timestamp`
    /// errors and are moved to it (StoreNormalizer `max_secs_in_past`). Default: no limit.
    #[arg(long, value_name = "SECS")]
    max_secs_in_past: Option<u64>,
    /// Timestamps more than this many seconds after --received become `future_timestamp`
    /// errors and are moved to it (StoreNormalizer `max_secs_in_future`). Default: no limit.
    #[arg(long, value_name = "SECS")]
    max_secs_in_future: Option<u64>,
    /// The submitting client's IP address (StoreNormalizer `client_ip`); user IP addresses are
    /// inferred from it with --infer-ip-address.
    #[arg(long, value_name = "IP")]
    client_ip: Option<std::net::IpAddr>,
    /// Infer user IP addresses (`{{auto}}`) from --client-ip (StoreNormalizer
    /// `infer_ip_address=True`). Off by default, as in StoreNormalizer.
    #[arg(long)]
    infer_ip_address: bool,
    /// The project id, written to `project` (StoreNormalizer `project_id`). Default: cleared.
    #[arg(long, value_name = "ID")]
    project_id: Option<u64>,
    /// The numeric id of the DSN key, written to `key_id` (StoreNormalizer `key_id`). Default:
    /// cleared.
    #[arg(long, value_name = "ID")]
    key_id: Option<u64>,
    /// The protocol version (`sentry_version`), written to `version` (StoreNormalizer
    /// `protocol_version`). Default: cleared.
    #[arg(long, value_name = "VERSION")]
    protocol_version: Option<u16>,
    /// The client string (`sentry_client`, e.g. `sentry.python/2.1.0`): an event without
    /// `sdk` gets its name and version from it (StoreNormalizer `client`).
    #[arg(long, value_name = "CLIENT")]
    client: Option<String>,
    /// Fill browser/os/device contexts from the user agent and client hints
    /// (StoreNormalizer `normalize_user_agent`). Off by default.
    #[arg(long)]
    normalize_user_agent: bool,
    /// Span normalization of transactions: span-data conventions and exclusive time
    /// (StoreNormalizer `normalize_spans`). Off by default.
    #[arg(long)]
    normalize_spans: bool,
    /// Pretty-print the output instead of writing one line of compact JSON.
    #[arg(long)]
    pretty: bool,
}

impl NormalizeArgs {
    fn config(&self) -> relay_normalization::NormalizationConfig {
        let switch = |on: bool, off: bool| match (on, off) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        // The config grows with every implemented step; new knobs keep their defaults here.
        #[allow(clippy::needless_update)]
        relay_normalization::NormalizationConfig {
            is_renormalize: self.renormalize,
            enable_trimming: self.enable_trimming,
            remove_other: switch(self.remove_other, self.keep_other),
            emit_event_errors: switch(self.event_errors, self.no_event_errors),
            received_at: self.received,
            sent_at: self.sent_at,
            max_secs_in_past: self.max_secs_in_past,
            max_secs_in_future: self.max_secs_in_future,
            client_ip: self.client_ip,
            infer_ip_address: self.infer_ip_address,
            project_id: self.project_id,
            key_id: self.key_id,
            protocol_version: self.protocol_version,
            client: self.client.clone(),
            normalize_user_agent: self.normalize_user_agent,
            normalize_spans: self.normalize_spans,
            ..relay_normalization::NormalizationConfig::default()
        }
    }
}

/// A point in time on the command line: RFC 3339 (`2024-01-01T00:00:00Z`) or Unix seconds.
fn parse_timestamp(text: &str) -> Result<relay_event::Timestamp, String> {
    let parsed = match text.parse::<f64>() {
        Ok(seconds) => relay_event::Timestamp::from_seconds(seconds).ok(),
        Err(_) => relay_event::Timestamp::parse_str(text).ok(),
    };
    parsed.ok_or_else(|| "expected an RFC 3339 date or Unix seconds".to_owned())
}

#[derive(Args, Debug)]
struct CompletionArgs {
    #[arg(short = 'f', long = "format", value_enum)]
    format: Option<clap_complete::Shell>,
}

/// Entry point; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = error.exit_code();
            let _ = error.print();
            return code;
        }
    };
    match execute(cli) {
        Ok(()) => 0,
        Err(error) => {
            let mut message = format!("error: {error}");
            for cause in error.chain().skip(1) {
                message.push_str(&format!("\n  caused by: {cause}"));
            }
            if tracing::dispatcher::has_been_set() {
                tracing::error!("{message}");
            }
            eprintln!("{message}");
            1
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::GenerateCompletions(args) => {
            generate_completions(args);
            Ok(())
        }
        Command::Config(ConfigCommand::Init) => config_init(cli.config.as_deref()),
        Command::Run(ref args) => {
            let mut overrides = global_overrides(&cli);
            apply_run_flags(&mut overrides, args);
            let config = load_config(cli.config.as_deref(), overrides.clone())?;
            run(config, overrides)
        }
        Command::Credentials(ref command) => {
            let config = load_config(cli.config.as_deref(), global_overrides(&cli))?;
            credentials(config, command)
        }
        Command::Config(ConfigCommand::Show { format }) => {
            let config = load_config(cli.config.as_deref(), global_overrides(&cli))?;
            match format {
                ShowFormat::Yaml => print!("{}", config.to_yaml_string()?),
                ShowFormat::Debug => println!("{:#?}", config.values()),
            }
            Ok(())
        }
        #[cfg(feature = "processing")]
        Command::ProjectConfig(ref command) => {
            let config = load_config(cli.config.as_deref(), global_overrides(&cli))?;
            crate::cli_project_config::run(&config, command)
        }
        Command::Healthcheck(ref args) => {
            let config = load_config(cli.config.as_deref(), global_overrides(&cli))?;
            healthcheck(&config, args)
        }
        Command::Normalize(ref args) => normalize(args),
    }
}

fn global_overrides(cli: &Cli) -> OverridableConfig {
    let mut overrides = OverridableConfig::from_env();
    if let Some(level) = cli.log_level {
        overrides.log_level = Some(format!("{level:?}").to_lowercase());
    }
    if let Some(format) = cli.log_format {
        overrides.log_format = Some(format!("{format:?}").to_lowercase());
    }
    overrides
}

fn apply_run_flags(overrides: &mut OverridableConfig, args: &RunArgs) {
    let set = |target: &mut Option<String>, value: &Option<String>| {
        if let Some(value) = value {
            *target = Some(value.clone());
        }
    };
    if let Some(mode) = args.mode {
        overrides.mode = Some(format!("{mode:?}").to_lowercase());
    }
    set(&mut overrides.secret_key, &args.secret_key);
    set(&mut overrides.public_key, &args.public_key);
    set(&mut overrides.id, &args.id);
    set(&mut overrides.upstream, &args.upstream);
    set(&mut overrides.upstream_dsn, &args.upstream_dsn);
    set(&mut overrides.host, &args.host);
    set(&mut overrides.port, &args.port);
    set(&mut overrides.kafka_url, &args.kafka_broker_url);
    set(&mut overrides.redis_url, &args.redis_url);
    set(&mut overrides.outcome_source, &args.source_id);
    set(&mut overrides.shutdown_timeout, &args.shutdown_timeout);
    set(&mut overrides.instance, &args.instance);
    set(&mut overrides.server_name, &args.server_name);
    if args.processing {
        overrides.processing = Some("true".to_owned());
    } else if args.no_processing {
        overrides.processing = Some("false".to_owned());
    }
}

/// Loads the config directory, applies overrides and sets up logging.
fn load_config(path: Option<&Path>, overrides: OverridableConfig) -> anyhow::Result<Config> {
    let explicit = path.is_some();
    let directory = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR));
    let directory = absolute(&directory)?;
    let mut config = Config::from_path(&directory, explicit)?;
    config.apply_overrides(overrides)?;
    logging::init(&config);
    Ok(config)
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("could not determine the working directory")?
        .join(path))
}

/// The refusal of a relay built without the `processing` feature to run a processing config
/// (the message is Sentry Relay's).
#[cfg(not(feature = "processing"))]
const PROCESSING_NOT_COMPILED: &str = "was not compiled with processing, cannot enable processing";

fn run(config: Config, overrides: OverridableConfig) -> anyhow::Result<()> {
    #[cfg(not(feature = "processing"))]
    if config.processing_enabled() {
        anyhow::bail!(PROCESSING_NOT_COMPILED);
    }
    config.validate_for_run()?;
    tracing::info!(
        relay_version = RELAY_VERSION,
        build = crate::BUILD_VERSION,
        mode = config.mode().as_str(),
        "launching relay"
    );
    #[cfg(feature = "processing")]
    if config.processing_enabled() {
        // A broken Kafka or Redis setting fails here, naming the setting, before relay binds.
        crate::processing_checks::check_processing_config(&config)?;
    }
    let threads = config.max_thread_count();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("relay-worker")
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let config = Arc::new(config);
    runtime.block_on(crate::server::run(config, overrides))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn print_credentials(header: &str, credentials: &Credentials) {
    println!("{header}");
    println!("  relay id: {}", credentials.id);
    println!("  public key: {}", credentials.public_key);
}

fn credentials(mut config: Config, command: &CredentialsCommand) -> anyhow::Result<()> {
    match command {
        CredentialsCommand::Generate { overwrite, stdout } => {
            if config.credentials().is_some() && !overwrite && !stdout {
                bail!("aborting because credentials already exist. Pass --overwrite to force.");
            }
            let credentials = Credentials::generate();
            if *stdout {
                println!("{}", credentials.to_json_compact());
                return Ok(());
            }
            tracing::info!("generating new relay credentials");
            config.replace_credentials(Some(credentials.clone()))?;
            print_credentials("Generated new credentials", &credentials);
        }
        CredentialsCommand::Show => {
            let Some(credentials) = config.credentials() else {
                bail!("no stored credentials");
            };
            print_credentials("Credentials:", credentials);
        }
        CredentialsCommand::Remove { yes } => {
            if config.credentials().is_none() {
                println!("No credentials");
                return Ok(());
            }
            if !yes && !confirm("Remove stored credentials?")? {
                return Ok(());
            }
            config.replace_credentials(None)?;
            println!("Credentials removed");
        }
        CredentialsCommand::Set {
            secret_key,
            public_key,
            id,
            mode: _,
        } => credentials_set(config, secret_key, public_key, id)?,
    }
    Ok(())
}

fn credentials_set(
    mut config: Config,
    secret_key: &Option<String>,
    public_key: &Option<String>,
    id: &Option<String>,
) -> anyhow::Result<()> {
    let existing = config.credentials().cloned();
    let mut prompted = false;
    let secret = match (secret_key, &existing) {
        (Some(value), _) => Some(value.clone()),
        (None, Some(_)) => None,
        (None, None) => {
            prompted = true;
            Some(prompt("Secret key")?)
        }
    };
    let public = match (public_key, &existing) {
        (Some(value), _) => Some(value.clone()),
        (None, Some(_)) => None,
        (None, None) => {
            prompted = true;
            Some(prompt("Public key")?)
        }
    };
    let relay_id = match (id, &existing) {
        (Some(value), _) if value == "random" => Some(uuid::Uuid::new_v4()),
        (Some(value), _) => Some(
            value
                .parse::<uuid::Uuid>()
                .map_err(|_| anyhow::anyhow!("invalid relay id supplied"))?,
        ),
        (None, Some(_)) => None,
        (None, None) => {
            prompted = true;
            Some(uuid::Uuid::new_v4())
        }
    };
    let secret_key = match secret {
        Some(value) => Some(
            value
                .trim()
                .parse::<relay_auth::SecretKey>()
                .map_err(|_| anyhow::anyhow!("invalid secret key supplied"))?,
        ),
        None => None,
    };
    let public_key = match public {
        Some(value) => Some(
            value
                .trim()
                .parse::<relay_auth::PublicKey>()
                .map_err(|_| anyhow::anyhow!("invalid public key supplied"))?,
        ),
        None => None,
    };
    let updated = match existing.clone() {
        Some(mut credentials) => {
            if let Some(secret_key) = secret_key {
                credentials.secret_key = secret_key;
            }
            if let Some(public_key) = public_key {
                credentials.public_key = public_key;
            }
            if let Some(relay_id) = relay_id {
                credentials.id = relay_id;
            }
            credentials
        }
        None => match (secret_key, public_key, relay_id) {
            (Some(secret_key), Some(public_key), Some(id)) => Credentials {
                secret_key,
                public_key,
                id,
            },
            _ => bail!("incomplete credentials"),
        },
    };
    if existing.as_ref() == Some(&updated) {
        println!("Nothing was changed");
        if !prompted {
            println!("Run `relay credentials remove` first to remove all stored credentials.");
        }
        return Ok(());
    }
    config.replace_credentials(Some(updated.clone()))?;
    print_credentials("Stored updated credentials:", &updated);
    Ok(())
}

fn read_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read from standard input")?;
    Ok(line.trim().to_owned())
}

fn prompt(label: &str) -> anyhow::Result<String> {
    print!("{label}: ");
    std::io::stdout().flush().ok();
    read_line()
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush().ok();
    let answer = read_line()?;
    Ok(matches!(answer.as_str(), "y" | "Y" | "yes"))
}

/// `relay config init` (config.md §6.3).
fn config_init(path: Option<&Path>) -> anyhow::Result<()> {
    let directory = absolute(path.unwrap_or(Path::new(DEFAULT_CONFIG_DIR)))?;
    println!("Initializing relay in {}", directory.display());
    let config_file = directory.join("config.yml");
    let mut changed = false;
    if !config_file.exists() {
        println!("Do you want to create a new config?");
        println!("  1) Yes, create default config");
        println!("  2) Yes, create custom config");
        println!("  3) No, abort");
        print!("> ");
        std::io::stdout().flush().ok();
        let choice = read_line()?;
        let relay_section = match choice.as_str() {
            "" | "1" => "relay:\n  mode: managed\n".to_owned(),
            "2" => {
                let mode = prompt("Mode (managed, proxy, static) [managed]")?;
                let mode = if mode.is_empty() {
                    "managed".to_owned()
                } else {
                    mode
                };
                let upstream = prompt("Upstream [https://sentry.io/]")?;
                let upstream = if upstream.is_empty() {
                    "https://sentry.io/".to_owned()
                } else {
                    upstream
                };
                let host = prompt("Listen host [127.0.0.1]")?;
                let host = if host.is_empty() {
                    "127.0.0.1".to_owned()
                } else {
                    host
                };
                let port = prompt("Listen port [3000]")?;
                let port = if port.is_empty() {
                    "3000".to_owned()
                } else {
                    port
                };
                format!(
                    "relay:\n  mode: {mode}\n  upstream: \"{upstream}\"\n  host: {host}\n  port: {port}\n"
                )
            }
            _ => {
                println!("Nothing to do.");
                return Ok(());
            }
        };
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("could not create {}", directory.display()))?;
        let text = format!(
            "# Please see the relevant documentation.\n# Performance tuning: https://docs.sentry.io/product/relay/operating-guidelines/\n# All config options: https://docs.sentry.io/product/relay/options/\n{relay_section}"
        );
        write_private_file(&config_file, text.as_bytes())?;
        changed = true;
    }
    let mut config = Config::from_path(&directory, true)?;
    if config.mode() == RelayMode::Managed && config.credentials().is_none() {
        let credentials = Credentials::generate();
        config.replace_credentials(Some(credentials.clone()))?;
        print_credentials("Generated new credentials", &credentials);
        changed = true;
    }
    if changed {
        println!("All done!");
    } else {
        println!("Nothing to do.");
    }
    Ok(())
}

fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// `relay healthcheck` (config.md §6.4).
fn healthcheck(config: &Config, args: &HealthcheckArgs) -> anyhow::Result<()> {
    let address = match &args.addr {
        Some(address) => address.clone(),
        None => config
            .internal_listen_addr()
            .unwrap_or_else(|| config.listen_addr())
            .to_string(),
    };
    let mode = match args.mode {
        HealthMode::Live => "live",
        HealthMode::Ready => "ready",
    };
    let url = format!("http://{address}/api/relay/healthcheck/{mode}/");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let status = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(args.timeout))
            .no_proxy()
            .build()?;
        let response = client.get(&url).send().await?;
        Ok::<_, reqwest::Error>(response.status())
    });
    match status {
        Ok(status) if status.is_success() => Ok(()),
        Ok(status) => {
            tracing::error!("Relay is unhealthy. Status code: {}", status.as_u16());
            eprintln!("Relay is unhealthy. Status code: {}", status.as_u16());
            std::process::exit(1);
        }
        Err(error) => {
            tracing::error!(error = %error, "Relay is unhealthy");
            eprintln!("Relay is unhealthy: {error}");
            std::process::exit(1);
        }
    }
}

/// `relay normalize`: reads one event, normalizes it and prints it with `_meta` on stdout; a
/// rejected event (normalization.md §4.3, §5) is an error.
fn normalize(args: &NormalizeArgs) -> anyhow::Result<()> {
    let text = match &args.file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("could not read from standard input")?;
            text
        }
    };
    let output = normalize_text(&text, &args.config())?;
    let output = if args.pretty {
        serde_json::to_string_pretty(&output)
    } else {
        serde_json::to_string(&output)
    }
    .context("could not serialize the normalized event")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{output}").context("could not write to standard output")?;
    Ok(())
}

/// Parses `text` leniently as an event, normalizes it and returns it as JSON with `_meta`.
/// Malformed JSON and a rejected event (`invalid transaction event: <reason>`) are errors.
fn normalize_text(
    text: &str,
    config: &relay_normalization::NormalizationConfig,
) -> anyhow::Result<serde_json::Value> {
    let mut event: relay_event::Annotated<relay_event::schema::Event> =
        relay_event::from_json_str(text).context("the input is not valid JSON")?;
    relay_normalization::normalize_event(&mut event, config)
        .map_err(|action| anyhow::anyhow!("{action}"))?;
    relay_event::to_json(&event).context("could not serialize the normalized event")
}

fn generate_completions(args: CompletionArgs) {
    use clap::CommandFactory;
    let shell = args.format.unwrap_or_else(|| {
        std::env::var("SHELL")
            .ok()
            .and_then(clap_complete::Shell::from_shell_path)
            .unwrap_or(clap_complete::Shell::Bash)
    });
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "relay", &mut std::io::stdout());
}

#[cfg(test)]
mod tests {
    #[cfg(not(feature = "processing"))]
    #[test]
    fn processing_is_refused_without_the_processing_feature() {
        let config = Config::from_yaml_str("processing: {enabled: true}").unwrap();
        let error = super::run(config, OverridableConfig::default()).unwrap_err();
        assert_eq!(error.to_string(), super::PROCESSING_NOT_COMPILED);
    }

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_after_subcommand() {
        let cli =
            Cli::try_parse_from(["relay", "run", "-c", "/tmp/x", "--log-level", "debug"]).unwrap();
        assert_eq!(cli.config.as_deref(), Some(Path::new("/tmp/x")));
        assert!(matches!(cli.log_level, Some(CliLogLevel::Debug)));
    }

    #[test]
    fn keys_starting_with_a_hyphen_are_values() {
        let cli = Cli::try_parse_from([
            "relay",
            "credentials",
            "set",
            "-s",
            "-abc",
            "-p",
            "-def",
            "-i",
            "random",
        ])
        .unwrap();
        let Command::Credentials(CredentialsCommand::Set {
            secret_key,
            public_key,
            ..
        }) = cli.command
        else {
            panic!("parsed the wrong command");
        };
        assert_eq!(secret_key.as_deref(), Some("-abc"));
        assert_eq!(public_key.as_deref(), Some("-def"));
        let cli = Cli::try_parse_from(["relay", "run", "-s", "-abc", "-p", "-def"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("parsed the wrong command");
        };
        assert_eq!(args.secret_key.as_deref(), Some("-abc"));
    }

    fn normalize_args(args: &[&str]) -> Result<NormalizeArgs, clap::Error> {
        let cli = Cli::try_parse_from(["relay", "normalize"].iter().chain(args))?;
        let Command::Normalize(args) = cli.command else {
            panic!("parsed the wrong command");
        };
        Ok(args)
    }

    #[test]
    fn normalize_flags_map_to_the_config() {
        let config = normalize_args(&["--stdin"]).unwrap().config();
        let defaults = relay_normalization::NormalizationConfig::default();
        assert_eq!(format!("{config:?}"), format!("{defaults:?}"));
        let config = normalize_args(&[
            "--stdin",
            "--renormalize",
            "--enable-trimming",
            "--remove-other",
            "--no-event-errors",
        ])
        .unwrap()
        .config();
        assert!(config.is_renormalize && config.enable_trimming);
        assert_eq!(config.remove_other, Some(true));
        assert_eq!(config.emit_event_errors, Some(false));
        let config = normalize_args(&["event.json", "--keep-other", "--event-errors"])
            .unwrap()
            .config();
        assert_eq!(config.remove_other, Some(false));
        assert_eq!(config.emit_event_errors, Some(true));
        let config = normalize_args(&[
            "--stdin",
            "--received",
            "2024-01-01T00:00:00Z",
            "--sent-at",
            "1704067210.5",
            "--max-secs-in-past",
            "7776000",
            "--max-secs-in-future",
            "60",
        ])
        .unwrap()
        .config();
        assert_eq!(
            config.received_at.map(|t| t.as_seconds()),
            Some(1704067200.0)
        );
        assert_eq!(config.sent_at.map(|t| t.as_seconds()), Some(1704067210.5));
        assert_eq!(config.max_secs_in_past, Some(7776000));
        assert_eq!(config.max_secs_in_future, Some(60));
        let config = normalize_args(&[
            "--stdin",
            "--client-ip",
            "::1",
            "--infer-ip-address",
            "--project-id",
            "42",
            "--key-id",
            "17",
            "--protocol-version",
            "7",
        ])
        .unwrap()
        .config();
        assert_eq!(config.client_ip, "::1".parse().ok());
        assert!(config.infer_ip_address);
        assert_eq!(
            (config.project_id, config.key_id, config.protocol_version),
            (Some(42), Some(17), Some(7))
        );
    }

    #[test]
    fn normalize_needs_exactly_one_input_and_consistent_switches() {
        for args in [
            &[][..],
            &["--stdin", "event.json"],
            &["--stdin", "--remove-other", "--keep-other"],
            &["--stdin", "--event-errors", "--no-event-errors"],
            &["--stdin", "--received", "yesterday"],
            &["--stdin", "--max-secs-in-past", "-1"],
            &["--stdin", "--client-ip", "localhost"],
        ] {
            let error = normalize_args(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn normalize_text_reports_invalid_values_and_malformed_json() {
        let config = relay_normalization::NormalizationConfig::default();
        let output = normalize_text(r#"{"dist": "a b"}"#, &config).unwrap();
        assert_eq!(output["dist"], serde_json::Value::Null);
        assert_eq!(output["_meta"]["dist"][""]["val"], "a b");
        assert_eq!(output["errors"][0]["name"], "dist");
        let error = normalize_text("{", &config).unwrap_err();
        assert_eq!(error.to_string(), "the input is not valid JSON");
        let error = normalize_text(r#"{"type": "transaction"}"#, &config).unwrap_err();
        assert!(error.to_string().starts_with("invalid transaction event: "));
    }

    #[test]
    fn usage_errors_exit_with_two() {
        let error = Cli::try_parse_from(["relay", "--log-level", "foo", "run"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let error = Cli::try_parse_from(["relay"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }
}
