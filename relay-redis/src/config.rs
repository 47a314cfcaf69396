//! The typed, validated form of `processing.redis` (`config.md` §4.11,
//! `redis-and-quotas.md` §1).
//!
//! `relay_config` only parses the *shapes* (any string is accepted while processing is
//! disabled). [`RedisPools::from_config`] turns them into connectable descriptions and is where
//! a broken setting is rejected, with an error naming the setting exactly as it is spelled in
//! `config.yml` (e.g. `processing.redis.project_configs.cluster_nodes[1]`).
//!
//! Invariants of a built value: every URL parsed as a Redis URL, a cluster has at least one
//! node and the cluster client could be built from its nodes, `max_connections` is at least 1
//! and the connection and response timeouts are non-zero.

use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{ConnectionInfo, IntoConnectionInfo};
use relay_config::{RedisConfig, RedisConnectionOptions, RedisServerConfig};

/// The setting all Redis configuration lives under.
const REDIS_SETTING: &str = "processing.redis";
/// Sub-setting of the project-config pool in the split form.
const PROJECT_CONFIGS_SETTING: &str = "project_configs";
/// Sub-setting of the quota pool in the split form.
const QUOTAS_SETTING: &str = "quotas";

/// Lower bound of the derived `max_connections` of the project-config pool (`config.md`
/// §4.11: "min 24 for project configs").
pub const PROJECT_CONFIGS_MIN_CONNECTIONS: u32 = 24;
/// Lower bound of the derived `max_connections` of the quota pool: the spec gives no minimum,
/// but a pool needs at least one connection.
const QUOTAS_MIN_CONNECTIONS: u32 = 1;
/// The derived `max_connections` is this many per worker thread (`redis-and-quotas.md` §1).
const CONNECTIONS_PER_WORKER_THREAD: u32 = 2;

/// The derived default of `max_connections`: twice the worker thread count, at least `minimum`.
pub fn default_max_connections(worker_threads: usize, minimum: u32) -> u32 {
    let threads = u32::try_from(worker_threads).unwrap_or(u32::MAX);
    threads
        .saturating_mul(CONNECTIONS_PER_WORKER_THREAD)
        .max(minimum)
}

/// A `processing.redis` value that cannot be used. Each message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum RedisConfigError {
    /// A URL setting holds the empty string (accepted by the parser while processing is off).
    #[error("invalid config value (field {setting}): the redis URL is empty")]
    EmptyUrl {
        /// The setting, e.g. `processing.redis.server`.
        setting: String,
    },
    /// A URL setting does not parse as a Redis URL.
    #[error(
        "invalid config value (field {setting}): not a usable redis URL \
         (expected redis://[user:password@]host[:port][/db])"
    )]
    InvalidUrl {
        /// The setting, e.g. `processing.redis.cluster_nodes[0]`.
        setting: String,
        /// Why the Redis client rejected it.
        #[source]
        source: redis::RedisError,
    },
    /// `cluster_nodes` is an empty list.
    #[error("invalid config value (field {setting}): a redis cluster needs at least one node")]
    NoClusterNodes {
        /// The setting, e.g. `processing.redis.cluster_nodes`.
        setting: String,
    },
    /// The cluster client rejected the combination of nodes (e.g. a unix socket node).
    #[error(
        "invalid config value (field {setting}): the cluster nodes cannot form a cluster client"
    )]
    InvalidCluster {
        /// The setting, e.g. `processing.redis.cluster_nodes`.
        setting: String,
        /// Why the cluster client rejected the nodes.
        #[source]
        source: redis::RedisError,
    },
    /// `max_connections: 0`.
    #[error("invalid config value (field {setting}): must be at least 1")]
    ZeroMaxConnections {
        /// The setting, e.g. `processing.redis.max_connections`.
        setting: String,
    },
    /// `create_timeout: 0` or `response_timeout: 0`: every connection attempt or command
    /// would fail at once.
    #[error("invalid config value (field {setting}): must be at least 1 second")]
    ZeroTimeout {
        /// The setting, e.g. `processing.redis.response_timeout`.
        setting: String,
    },
}

/// Pool options of one Redis deployment, with every default resolved.
///
/// Relay talks to Redis over multiplexed connections (one per node) rather than a checkout
/// pool, so the options apply as follows:
///
/// * `max_connections`: the number of commands that may await a response at once per node;
///   further commands wait for one to finish, as they would wait for a free pooled connection.
/// * `create_timeout`: deadline of each connection attempt.
/// * `response_timeout`: deadline of each command once sent.
/// * `wait_timeout`: how long a command may wait for an in-flight slot; it bounds a command's
///   total time to `wait_timeout + response_timeout`. `None` waits indefinitely for a slot.
/// * `idle_timeout`, `recycle_timeout`: kept so the configuration round-trips, but a
///   multiplexed connection never sits idle in a pool and is never checked out, so there is
///   nothing for them to govern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisPoolOptions {
    /// Commands in flight per node.
    pub max_connections: u32,
    /// `idle_timeout` (see the type docs).
    pub idle_timeout: Duration,
    /// Deadline of a connection attempt.
    pub create_timeout: Duration,
    /// `recycle_timeout` (see the type docs).
    pub recycle_timeout: Duration,
    /// Extra time a command may wait for an in-flight slot.
    pub wait_timeout: Option<Duration>,
    /// Deadline of one command.
    pub response_timeout: Duration,
}

impl RedisPoolOptions {
    /// The documented defaults with the given `max_connections`.
    pub fn with_max_connections(max_connections: u32) -> Self {
        let defaults = RedisConnectionOptions::default();
        Self {
            max_connections: max_connections.max(1),
            idle_timeout: Duration::from_secs(defaults.idle_timeout),
            create_timeout: Duration::from_secs(defaults.create_timeout),
            recycle_timeout: Duration::from_secs(defaults.recycle_timeout),
            wait_timeout: defaults.wait_timeout.map(Duration::from_secs),
            response_timeout: Duration::from_secs(defaults.response_timeout),
        }
    }

    /// Resolves and validates the options given next to `server` / `cluster_nodes`.
    fn from_config(
        options: &RedisConnectionOptions,
        setting: &str,
        default_max_connections: u32,
    ) -> Result<Self, RedisConfigError> {
        let option_setting = |name: &str| format!("{setting}.{name}");
        let max_connections = options.max_connections.unwrap_or(default_max_connections);
        if max_connections == 0 {
            return Err(RedisConfigError::ZeroMaxConnections {
                setting: option_setting("max_connections"),
            });
        }
        if options.create_timeout == 0 {
            return Err(RedisConfigError::ZeroTimeout {
                setting: option_setting("create_timeout"),
            });
        }
        if options.response_timeout == 0 {
            return Err(RedisConfigError::ZeroTimeout {
                setting: option_setting("response_timeout"),
            });
        }
        Ok(Self {
            max_connections,
            idle_timeout: Duration::from_secs(options.idle_timeout),
            create_timeout: Duration::from_secs(options.create_timeout),
            recycle_timeout: Duration::from_secs(options.recycle_timeout),
            wait_timeout: options.wait_timeout.map(Duration::from_secs),
            response_timeout: Duration::from_secs(options.response_timeout),
        })
    }

    /// `max_connections` as the in-flight limit of the Redis client.
    pub(crate) fn concurrency_limit(&self) -> usize {
        usize::try_from(self.max_connections).unwrap_or(usize::MAX)
    }
}

/// Where a deployment lives.
#[derive(Debug, Clone)]
pub enum RedisTopology {
    /// One node (`"redis://…"` or `{server: "redis://…"}`).
    Single(ConnectionInfo),
    /// A Redis Cluster, discovered from these seed nodes (`{cluster_nodes: […]}`).
    Cluster(Vec<ConnectionInfo>),
}

/// One connectable Redis deployment: topology, options and the setting it came from.
#[derive(Debug, Clone)]
pub struct RedisServer {
    /// Node(s) to connect to.
    pub topology: RedisTopology,
    /// Resolved pool options.
    pub options: RedisPoolOptions,
    /// The setting this deployment was configured by, for error messages
    /// (e.g. `processing.redis.project_configs`, or `--redis-url`).
    pub setting: String,
}

impl RedisServer {
    /// One node given by URL, e.g. from a `--redis-url` flag named by `setting`.
    pub fn from_url(
        url: &str,
        setting: &str,
        options: RedisPoolOptions,
    ) -> Result<Self, RedisConfigError> {
        Ok(Self {
            topology: RedisTopology::Single(parse_url(url, setting)?),
            options,
            setting: setting.to_owned(),
        })
    }

    /// Validates one connection description found at `setting`.
    pub fn from_config(
        server: &RedisServerConfig,
        setting: &str,
        default_max_connections: u32,
    ) -> Result<Self, RedisConfigError> {
        match server {
            RedisServerConfig::Url(url) => Self::from_url(
                url,
                setting,
                RedisPoolOptions::with_max_connections(default_max_connections),
            ),
            RedisServerConfig::Server { server, options } => Ok(Self {
                topology: RedisTopology::Single(parse_url(server, &format!("{setting}.server"))?),
                options: RedisPoolOptions::from_config(options, setting, default_max_connections)?,
                setting: setting.to_owned(),
            }),
            RedisServerConfig::Cluster {
                cluster_nodes,
                options,
            } => {
                let nodes_setting = format!("{setting}.cluster_nodes");
                if cluster_nodes.is_empty() {
                    return Err(RedisConfigError::NoClusterNodes {
                        setting: nodes_setting,
                    });
                }
                let nodes = cluster_nodes
                    .iter()
                    .enumerate()
                    .map(|(index, url)| parse_url(url, &format!("{nodes_setting}[{index}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                let options =
                    RedisPoolOptions::from_config(options, setting, default_max_connections)?;
                // Building the client checks what single URLs cannot show (e.g. unix sockets,
                // which a cluster cannot use) without connecting.
                cluster_client(&nodes, &options).map_err(|source| {
                    RedisConfigError::InvalidCluster {
                        setting: nodes_setting,
                        source,
                    }
                })?;
                Ok(Self {
                    topology: RedisTopology::Cluster(nodes),
                    options,
                    setting: setting.to_owned(),
                })
            }
        }
    }

    /// The node addresses (without credentials), for messages.
    pub fn describe_nodes(&self) -> String {
        match &self.topology {
            RedisTopology::Single(node) => node.addr().to_string(),
            RedisTopology::Cluster(nodes) => {
                let addresses: Vec<String> =
                    nodes.iter().map(|node| node.addr().to_string()).collect();
                format!("cluster {}", addresses.join(", "))
            }
        }
    }
}

/// The cluster client for `nodes`, with the pool options applied.
pub(crate) fn cluster_client(
    nodes: &[ConnectionInfo],
    options: &RedisPoolOptions,
) -> redis::RedisResult<ClusterClient> {
    ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(options.create_timeout)
        .response_timeout(options.response_timeout)
        .connection_concurrency_limit(options.concurrency_limit())
        .build()
}

fn parse_url(url: &str, setting: &str) -> Result<ConnectionInfo, RedisConfigError> {
    if url.trim().is_empty() {
        return Err(RedisConfigError::EmptyUrl {
            setting: setting.to_owned(),
        });
    }
    url.into_connection_info()
        .map_err(|source| RedisConfigError::InvalidUrl {
            setting: setting.to_owned(),
            source,
        })
}

/// The two pools of a processing relay (`redis-and-quotas.md` §1).
#[derive(Debug, Clone)]
pub struct RedisPools {
    /// Reads cached project configs.
    pub project_configs: RedisServer,
    /// Counts quota consumption.
    pub quotas: RedisServer,
}

impl RedisPools {
    /// Validates `processing.redis`; `worker_threads` derives the default `max_connections`.
    ///
    /// A single description is used for both pools (each pool still gets its own connection
    /// so slow quota scripts never delay project-config reads).
    pub fn from_config(
        config: &RedisConfig,
        worker_threads: usize,
    ) -> Result<Self, RedisConfigError> {
        let project_configs_default =
            default_max_connections(worker_threads, PROJECT_CONFIGS_MIN_CONNECTIONS);
        let quotas_default = default_max_connections(worker_threads, QUOTAS_MIN_CONNECTIONS);
        match config {
            RedisConfig::Unified(server) => Ok(Self {
                project_configs: RedisServer::from_config(
                    server,
                    REDIS_SETTING,
                    project_configs_default,
                )?,
                quotas: RedisServer::from_config(server, REDIS_SETTING, quotas_default)?,
            }),
            RedisConfig::Split {
                project_configs,
                quotas,
            } => Ok(Self {
                project_configs: RedisServer::from_config(
                    project_configs,
                    &format!("{REDIS_SETTING}.{PROJECT_CONFIGS_SETTING}"),
                    project_configs_default,
                )?,
                quotas: RedisServer::from_config(
                    quotas,
                    &format!("{REDIS_SETTING}.{QUOTAS_SETTING}"),
                    quotas_default,
                )?,
            }),
        }
    }

    /// The pools of a loaded configuration, `None` when `processing.redis` is not set.
    ///
    /// Validates regardless of `processing.enabled`: callers that only need Redis when
    /// processing is on check that first.
    pub fn from_relay_config(
        config: &relay_config::Config,
    ) -> Result<Option<Self>, RedisConfigError> {
        let Some(redis) = config.redis() else {
            return Ok(None);
        };
        Self::from_config(redis, config.max_thread_count()).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `relay_config` owns the YAML parsing; going through a full config keeps these tests
    /// on the real parser.
    fn parse(yaml: &str) -> RedisConfig {
        let text = format!("processing:\n  redis: {yaml}\n");
        let config = relay_config::Config::from_yaml_str(&text).unwrap();
        config.redis().cloned().unwrap()
    }

    fn error_message(yaml: &str) -> String {
        RedisPools::from_config(&parse(yaml), 4)
            .unwrap_err()
            .to_string()
    }

    fn single_address(server: &RedisServer) -> String {
        match &server.topology {
            RedisTopology::Single(info) => info.addr().to_string(),
            RedisTopology::Cluster(_) => panic!("expected a single node"),
        }
    }

    #[test]
    fn url_form_is_used_for_both_pools() {
        let pools = RedisPools::from_config(&parse("'redis://127.0.0.1:6379/2'"), 4).unwrap();
        assert_eq!(single_address(&pools.project_configs), "127.0.0.1:6379");
        assert_eq!(single_address(&pools.quotas), "127.0.0.1:6379");
        assert_eq!(pools.project_configs.setting, "processing.redis");
        match &pools.project_configs.topology {
            RedisTopology::Single(info) => assert_eq!(info.redis_settings().db(), 2),
            RedisTopology::Cluster(_) => panic!("expected a single node"),
        }
    }

    #[test]
    fn defaults_of_the_options() {
        let pools = RedisPools::from_config(&parse("'redis://127.0.0.1'"), 4).unwrap();
        let options = pools.project_configs.options;
        assert_eq!(options.max_connections, PROJECT_CONFIGS_MIN_CONNECTIONS);
        assert_eq!(options.idle_timeout, Duration::from_secs(60));
        assert_eq!(options.create_timeout, Duration::from_secs(3));
        assert_eq!(options.recycle_timeout, Duration::from_secs(2));
        assert_eq!(options.wait_timeout, None);
        assert_eq!(options.response_timeout, Duration::from_secs(30));
        assert_eq!(pools.quotas.options.max_connections, 8);
    }

    #[test]
    fn max_connections_default_is_twice_the_threads_with_a_floor() {
        assert_eq!(default_max_connections(4, 24), 24);
        assert_eq!(default_max_connections(12, 24), 24);
        assert_eq!(default_max_connections(13, 24), 26);
        assert_eq!(default_max_connections(0, 1), 1);
        assert_eq!(default_max_connections(usize::MAX, 1), u32::MAX);
    }

    #[test]
    fn server_form_with_options() {
        let pools = RedisPools::from_config(
            &parse(
                "{server: 'redis://10.0.0.1:7000', max_connections: 7, idle_timeout: 5, \
                 create_timeout: 6, recycle_timeout: 7, wait_timeout: 8, response_timeout: 9}",
            ),
            4,
        )
        .unwrap();
        let server = &pools.project_configs;
        assert_eq!(single_address(server), "10.0.0.1:7000");
        assert_eq!(
            server.options,
            RedisPoolOptions {
                max_connections: 7,
                idle_timeout: Duration::from_secs(5),
                create_timeout: Duration::from_secs(6),
                recycle_timeout: Duration::from_secs(7),
                wait_timeout: Some(Duration::from_secs(8)),
                response_timeout: Duration::from_secs(9),
            }
        );
        assert_eq!(pools.quotas.options.max_connections, 7);
    }

    #[test]
    fn cluster_form() {
        let pools = RedisPools::from_config(
            &parse("{cluster_nodes: ['redis://a:7000', 'redis://b:7001'], max_connections: 3}"),
            4,
        )
        .unwrap();
        let RedisTopology::Cluster(nodes) = &pools.project_configs.topology else {
            panic!("expected a cluster");
        };
        let addresses: Vec<String> = nodes.iter().map(|node| node.addr().to_string()).collect();
        assert_eq!(addresses, ["a:7000", "b:7001"]);
        assert_eq!(pools.project_configs.options.max_connections, 3);
        assert_eq!(
            pools.project_configs.describe_nodes(),
            "cluster a:7000, b:7001"
        );
    }

    #[test]
    fn split_form_names_each_pool() {
        let pools = RedisPools::from_config(
            &parse(
                "{project_configs: 'redis://configs:6379', \
                 quotas: {cluster_nodes: ['redis://q1:7000']}}",
            ),
            16,
        )
        .unwrap();
        assert_eq!(single_address(&pools.project_configs), "configs:6379");
        assert_eq!(
            pools.project_configs.setting,
            "processing.redis.project_configs"
        );
        assert_eq!(pools.project_configs.options.max_connections, 32);
        assert!(matches!(pools.quotas.topology, RedisTopology::Cluster(_)));
        assert_eq!(pools.quotas.setting, "processing.redis.quotas");
    }

    #[test]
    fn errors_name_the_setting() {
        assert_eq!(
            error_message("''"),
            "invalid config value (field processing.redis): the redis URL is empty"
        );
        assert_eq!(
            error_message("'http://example.com'"),
            "invalid config value (field processing.redis): not a usable redis URL \
             (expected redis://[user:password@]host[:port][/db])"
        );
        assert_eq!(
            error_message("{server: 'nonsense'}"),
            "invalid config value (field processing.redis.server): not a usable redis URL \
             (expected redis://[user:password@]host[:port][/db])"
        );
        assert_eq!(
            error_message("{cluster_nodes: []}"),
            "invalid config value (field processing.redis.cluster_nodes): a redis cluster \
             needs at least one node"
        );
        assert!(error_message("{cluster_nodes: ['redis://a:1', 'x']}")
            .starts_with("invalid config value (field processing.redis.cluster_nodes[1]):"));
        assert_eq!(
            error_message("{server: 'redis://a', max_connections: 0}"),
            "invalid config value (field processing.redis.max_connections): must be at least 1"
        );
        assert_eq!(
            error_message("{server: 'redis://a', create_timeout: 0}"),
            "invalid config value (field processing.redis.create_timeout): must be at least 1 second"
        );
        assert_eq!(
            error_message(
                "{project_configs: 'redis://a', quotas: {server: 'redis://b', response_timeout: 0}}"
            ),
            "invalid config value (field processing.redis.quotas.response_timeout): \
             must be at least 1 second"
        );
        assert_eq!(
            error_message("{project_configs: '', quotas: 'redis://b'}"),
            "invalid config value (field processing.redis.project_configs): the redis URL is empty"
        );
    }

    #[test]
    fn invalid_url_keeps_the_cause() {
        let error = RedisPools::from_config(&parse("'redis://'"), 4).unwrap_err();
        assert!(matches!(error, RedisConfigError::InvalidUrl { .. }));
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn unix_socket_node_cannot_form_a_cluster() {
        let error = RedisPools::from_config(
            &parse("{cluster_nodes: ['redis+unix:///tmp/redis.sock']}"),
            4,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid config value (field processing.redis.cluster_nodes)"),
            "{error}"
        );
    }

    #[test]
    fn from_relay_config_without_redis() {
        let config =
            relay_config::Config::from_yaml_str("processing:\n  enabled: false\n").unwrap();
        assert!(RedisPools::from_relay_config(&config).unwrap().is_none());
    }

    #[test]
    fn from_relay_config_uses_the_thread_count() {
        let config = relay_config::Config::from_yaml_str(
            "limits:\n  max_thread_count: 20\nprocessing:\n  redis: 'redis://127.0.0.1'\n",
        )
        .unwrap();
        let pools = RedisPools::from_relay_config(&config).unwrap().unwrap();
        assert_eq!(pools.project_configs.options.max_connections, 40);
        assert_eq!(pools.quotas.options.max_connections, 40);
    }

    #[test]
    fn explicit_url_with_options() {
        let server = RedisServer::from_url(
            "redis://127.0.0.1:6380",
            "--redis-url",
            RedisPoolOptions::with_max_connections(5),
        )
        .unwrap();
        assert_eq!(server.describe_nodes(), "127.0.0.1:6380");
        assert_eq!(server.options.max_connections, 5);
        let error =
            RedisServer::from_url("", "--redis-url", RedisPoolOptions::with_max_connections(5))
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid config value (field --redis-url): the redis URL is empty"
        );
    }
}
