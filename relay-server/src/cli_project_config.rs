//! `relay project-config push|show|delete`: the writer side of the Redis project-config cache
//! (`redis-and-quotas.md` §2.1) for self-hosted setups and tests.
//!
//! In production Sentry fills the cache and a processing relay only reads it. These commands
//! write and read entries in exactly Sentry's format (through [`relay_redis::ProjectConfigCache`]),
//! so a processing relay cannot tell them apart from Sentry's.
//!
//! The Redis deployment is `--redis-url` when given, else `processing.redis` of the loaded
//! configuration (its `project_configs` pool in the split form; `RELAY_REDIS_URL` overrides it
//! as for `run`). The key prefix is `--prefix`, else `processing.projectconfig_cache_prefix`.
//!
//! Output: `push` and `delete` print one line per key to stdout. `show` prints the decoded
//! project state as pretty JSON to stdout (so `show KEY > file` and `push file` round-trip) and
//! its revision, encoding and expiry as `name: value` lines to stderr.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use relay_config::Config;
use relay_protocol::ProjectKey;
use relay_redis::{
    CacheExpiry, ProjectConfigCache, RedisConnection, RedisPoolOptions, RedisPools, RedisServer,
    ValueEncoding,
};
use serde_json::{Map, Value};

/// The `push` source that means standard input.
const STDIN_SOURCE: &str = "-";
/// How errors name the flag when the Redis URL came from it.
const REDIS_URL_FLAG: &str = "--redis-url";
/// The CLI sends one command at a time, so one in-flight slot is all its connection needs.
const CLI_MAX_CONNECTIONS: u32 = 1;
/// State field listing the project's keys.
const PUBLIC_KEYS_FIELD: &str = "publicKeys";
/// Key field of each `publicKeys` entry.
const PUBLIC_KEY_FIELD: &str = "publicKey";

/// `relay project-config …`.
#[derive(Subcommand, Debug)]
pub enum ProjectConfigCommand {
    /// Write a project config into the Redis project-config cache.
    Push(PushArgs),
    /// Print a project config from the Redis project-config cache.
    Show(ShowArgs),
    /// Remove project configs from the Redis project-config cache.
    Delete(DeleteArgs),
}

/// Where the cache lives; every subcommand accepts these.
#[derive(Args, Debug, Default)]
pub struct CacheTarget {
    /// Redis server URL; overrides `processing.redis` of the config.
    #[arg(long = "redis-url", value_name = "URL")]
    pub redis_url: Option<String>,
    /// Key prefix; overrides `processing.projectconfig_cache_prefix` of the config.
    #[arg(long = "prefix", value_name = "PREFIX")]
    pub prefix: Option<String>,
}

/// `relay project-config push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// JSON file with one project state object, or `-` to read it from standard input.
    #[arg(value_name = "FILE")]
    pub source: String,
    /// Public key to store the config under (repeatable). Default: every
    /// `publicKeys[].publicKey` of the project state.
    #[arg(short = 'k', long = "public-key", value_name = "KEY")]
    pub public_keys: Vec<String>,
    /// Let the entry expire after this many seconds (default: never).
    #[arg(long = "ttl", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl: Option<u64>,
    /// Store plain JSON instead of a zstd-compressed frame.
    #[arg(long = "plain")]
    pub plain: bool,
    #[command(flatten)]
    pub target: CacheTarget,
}

/// `relay project-config show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Public key of the project config.
    #[arg(value_name = "KEY")]
    pub public_key: String,
    #[command(flatten)]
    pub target: CacheTarget,
}

/// `relay project-config delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Public key(s) whose project config is removed.
    #[arg(value_name = "KEY", required = true)]
    pub public_keys: Vec<String>,
    #[command(flatten)]
    pub target: CacheTarget,
}

/// Runs one `project-config` subcommand against the cache `config` (or its flags) points to.
pub fn run(config: &Config, command: &ProjectConfigCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(execute(config, command))
}

async fn execute(config: &Config, command: &ProjectConfigCommand) -> anyhow::Result<()> {
    match command {
        ProjectConfigCommand::Push(args) => push(config, args).await,
        ProjectConfigCommand::Show(args) => show(config, args).await,
        ProjectConfigCommand::Delete(args) => delete(config, args).await,
    }
}

fn parse_key(key: &str) -> anyhow::Result<ProjectKey> {
    ProjectKey::parse(key.trim())
        .map_err(|_| anyhow::anyhow!("invalid public key `{key}`: expected 32 characters"))
}

/// The Redis deployment and prefix from the flags, falling back to the config.
async fn open_cache(config: &Config, target: &CacheTarget) -> anyhow::Result<ProjectConfigCache> {
    let server = match &target.redis_url {
        Some(url) => RedisServer::from_url(
            url,
            REDIS_URL_FLAG,
            RedisPoolOptions::with_max_connections(CLI_MAX_CONNECTIONS),
        )?,
        None => match RedisPools::from_relay_config(config)? {
            Some(pools) => pools.project_configs,
            None => bail!(
                "no redis configured: set processing.redis in config.yml or RELAY_REDIS_URL, \
                 or pass --redis-url"
            ),
        },
    };
    let connection = RedisConnection::connect(&server).await?;
    let prefix = target
        .prefix
        .clone()
        .unwrap_or_else(|| config.projectconfig_cache_prefix().to_owned());
    Ok(ProjectConfigCache::new(connection, prefix))
}

/// The text of `source`: a file path, or standard input for `-`.
fn read_source(source: &str) -> anyhow::Result<String> {
    if source == STDIN_SOURCE {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("could not read the project config from standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(source)
        .with_context(|| format!("could not read the project config from {source}"))
}

fn source_label(source: &str) -> String {
    if source == STDIN_SOURCE {
        "standard input".to_owned()
    } else {
        source.to_owned()
    }
}

/// Parses the pushed document, which must be one project state object.
fn parse_state(text: &str, source: &str) -> anyhow::Result<Map<String, Value>> {
    let label = source_label(source);
    let value: Value = serde_json::from_str(text)
        .with_context(|| format!("the project config in {label} is not valid JSON"))?;
    match value {
        Value::Object(state) => Ok(state),
        _ => bail!("the project config in {label} must be a JSON object"),
    }
}

/// The `publicKeys[].publicKey` entries of a state, in order.
fn keys_from_state(state: &Map<String, Value>) -> anyhow::Result<Vec<ProjectKey>> {
    let entries = match state.get(PUBLIC_KEYS_FIELD) {
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(Value::Null) | None => &[],
        Some(_) => bail!("the project config's `publicKeys` must be a list"),
    };
    let mut keys = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some(Value::String(key)) = entry.get(PUBLIC_KEY_FIELD) else {
            bail!("every `publicKeys` entry of the project config needs a `publicKey` string");
        };
        keys.push(parse_key(key)?);
    }
    if keys.is_empty() {
        bail!("the project config lists no publicKeys[].publicKey; pass --public-key");
    }
    Ok(keys)
}

/// Drops repeated keys, keeping the first occurrence, so each key is written once.
fn deduplicate(keys: Vec<ProjectKey>) -> Vec<ProjectKey> {
    let mut unique = Vec::with_capacity(keys.len());
    for key in keys {
        if !unique.contains(&key) {
            unique.push(key);
        }
    }
    unique
}

fn describe_expiry(ttl: Option<Duration>) -> String {
    match ttl {
        Some(ttl) => format!("expires in {}s", ttl.as_secs()),
        None => "no expiry".to_owned(),
    }
}

async fn push(config: &Config, args: &PushArgs) -> anyhow::Result<()> {
    let text = read_source(&args.source)?;
    let state = parse_state(&text, &args.source)?;
    let keys = if args.public_keys.is_empty() {
        keys_from_state(&state)?
    } else {
        args.public_keys
            .iter()
            .map(|key| parse_key(key))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let keys = deduplicate(keys);
    let ttl = args.ttl.map(Duration::from_secs);
    let encoding = if args.plain {
        ValueEncoding::PlainJson
    } else {
        ValueEncoding::Zstd
    };
    let revision = match state.get("rev") {
        Some(Value::String(revision)) => revision.clone(),
        _ => "none".to_owned(),
    };

    let cache = open_cache(config, &args.target)
        .await?
        .with_write_encoding(encoding);
    let mut stdout = std::io::stdout().lock();
    for key in keys {
        cache
            .put(key, &state, ttl)
            .await
            .with_context(|| format!("could not push the project config for {key}"))?;
        writeln!(
            stdout,
            "pushed {} (revision {revision}, {}, {})",
            cache.config_key(key),
            encoding.name(),
            describe_expiry(ttl)
        )?;
    }
    Ok(())
}

async fn show(config: &Config, args: &ShowArgs) -> anyhow::Result<()> {
    let key = parse_key(&args.public_key)?;
    let cache = open_cache(config, &args.target).await?;
    let context = || format!("could not read the project config for {key}");
    let Some(cached) = cache.get(key).await.with_context(context)? else {
        bail!(
            "no project config cached for {key} (redis key {})",
            cache.config_key(key)
        );
    };
    let revision = cache.get_revision(key).await.with_context(context)?;
    let expiry = cache.expiry(key).await.with_context(context)?;

    let pretty = serde_json::to_string_pretty(&cached.state)
        .context("could not format the project config")?;
    writeln!(std::io::stdout().lock(), "{pretty}")?;
    let mut stderr = std::io::stderr().lock();
    writeln!(
        stderr,
        "revision: {}",
        revision.as_deref().unwrap_or("(none)")
    )?;
    writeln!(stderr, "encoding: {}", cached.encoding.name())?;
    let expiry = match expiry {
        CacheExpiry::In(remaining) => format!("{}s", remaining.as_secs()),
        CacheExpiry::Never => "never".to_owned(),
        // Expired between the reads.
        CacheExpiry::Missing => "now".to_owned(),
    };
    writeln!(stderr, "expires: {expiry}")?;
    Ok(())
}

async fn delete(config: &Config, args: &DeleteArgs) -> anyhow::Result<()> {
    let keys = args
        .public_keys
        .iter()
        .map(|key| parse_key(key))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cache = open_cache(config, &args.target).await?;
    let mut stdout = std::io::stdout().lock();
    for key in deduplicate(keys) {
        let deleted = cache
            .delete(key)
            .await
            .with_context(|| format!("could not delete the project config for {key}"))?;
        let verb = if deleted {
            "deleted"
        } else {
            "nothing cached for"
        };
        writeln!(stdout, "{verb} {}", cache.config_key(key))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const KEY_A: &str = "a94ae32be2584e0bbd7a4cbb95971fee";
    const KEY_B: &str = "31a5a894b4524f74a9a8d0e27e21ba91";

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(subcommand)]
        command: ProjectConfigCommand,
    }

    fn parse(args: &[&str]) -> Result<ProjectConfigCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("project-config").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("test fixture must be an object"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        TestCli::command().debug_assert();
    }

    #[test]
    fn push_arguments() {
        let command = parse(&[
            "push",
            "-",
            "-k",
            KEY_A,
            "--public-key",
            KEY_B,
            "--ttl",
            "60",
            "--plain",
            "--redis-url",
            "redis://127.0.0.1:6379",
            "--prefix",
            "p",
        ])
        .unwrap();
        let ProjectConfigCommand::Push(args) = command else {
            panic!("expected push");
        };
        assert_eq!(args.source, "-");
        assert_eq!(args.public_keys, [KEY_A, KEY_B]);
        assert_eq!(args.ttl, Some(60));
        assert!(args.plain);
        assert_eq!(
            args.target.redis_url.as_deref(),
            Some("redis://127.0.0.1:6379")
        );
        assert_eq!(args.target.prefix.as_deref(), Some("p"));
    }

    #[test]
    fn zero_ttl_and_missing_arguments_are_usage_errors() {
        assert!(parse(&["push", "state.json", "--ttl", "0"]).is_err());
        assert!(parse(&["push"]).is_err());
        assert!(parse(&["show"]).is_err());
        assert!(parse(&["delete"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }

    #[test]
    fn show_and_delete_arguments() {
        let ProjectConfigCommand::Show(args) = parse(&["show", KEY_A]).unwrap() else {
            panic!("expected show");
        };
        assert_eq!(args.public_key, KEY_A);
        assert!(args.target.redis_url.is_none());
        let ProjectConfigCommand::Delete(args) = parse(&["delete", KEY_A, KEY_B]).unwrap() else {
            panic!("expected delete");
        };
        assert_eq!(args.public_keys, [KEY_A, KEY_B]);
    }

    #[test]
    fn keys_come_from_the_state() {
        let state = object(serde_json::json!({
            "publicKeys": [{"publicKey": KEY_A, "numericId": 1}, {"publicKey": KEY_B}]
        }));
        let keys = keys_from_state(&state).unwrap();
        assert_eq!(keys, [parse_key(KEY_A).unwrap(), parse_key(KEY_B).unwrap()]);
    }

    #[test]
    fn states_without_usable_keys_are_refused() {
        let cases = [
            (
                serde_json::json!({}),
                "the project config lists no publicKeys[].publicKey; pass --public-key",
            ),
            (
                serde_json::json!({"publicKeys": []}),
                "the project config lists no publicKeys[].publicKey; pass --public-key",
            ),
            (
                serde_json::json!({"publicKeys": "x"}),
                "the project config's `publicKeys` must be a list",
            ),
            (
                serde_json::json!({"publicKeys": [{"numericId": 1}]}),
                "every `publicKeys` entry of the project config needs a `publicKey` string",
            ),
            (
                serde_json::json!({"publicKeys": [{"publicKey": "short"}]}),
                "invalid public key `short`: expected 32 characters",
            ),
        ];
        for (state, message) in cases {
            let error = keys_from_state(&object(state)).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn duplicate_keys_are_written_once() {
        let a = parse_key(KEY_A).unwrap();
        let b = parse_key(KEY_B).unwrap();
        assert_eq!(deduplicate(vec![a, b, a, b]), [a, b]);
    }

    #[test]
    fn pushed_document_must_be_an_object() {
        assert!(parse_state(r#"{"rev":"x"}"#, "f.json").is_ok());
        assert_eq!(
            parse_state("[]", "f.json").unwrap_err().to_string(),
            "the project config in f.json must be a JSON object"
        );
        assert_eq!(
            parse_state("{", "-").unwrap_err().to_string(),
            "the project config in standard input is not valid JSON"
        );
    }

    #[test]
    fn reads_a_file_source() {
        let directory = std::env::temp_dir().join(format!(
            "relay-cli-project-config-{}-read-source",
            std::process::id()
        ));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("state.json");
        std::fs::write(&path, r#"{"disabled":false}"#).unwrap();
        let read = read_source(path.to_str().unwrap());
        let missing = directory.join("missing.json");
        let missing = missing.to_str().unwrap();
        let missing_error = read_source(missing);
        std::fs::remove_dir_all(&directory).unwrap();
        assert_eq!(read.unwrap(), r#"{"disabled":false}"#);
        assert_eq!(
            missing_error.unwrap_err().to_string(),
            format!("could not read the project config from {missing}")
        );
    }

    #[test]
    fn expiry_descriptions() {
        assert_eq!(describe_expiry(None), "no expiry");
        assert_eq!(
            describe_expiry(Some(Duration::from_secs(90))),
            "expires in 90s"
        );
    }

    #[test]
    fn no_redis_configured_is_a_clear_error() {
        let config = Config::from_yaml_str("").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime
            .block_on(open_cache(&config, &CacheTarget::default()))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "no redis configured: set processing.redis in config.yml or RELAY_REDIS_URL, \
             or pass --redis-url"
        );
        let error = runtime
            .block_on(open_cache(
                &config,
                &CacheTarget {
                    redis_url: Some("not-a-url".to_owned()),
                    prefix: None,
                },
            ))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid config value (field --redis-url)"),
            "{error}"
        );
    }
}
