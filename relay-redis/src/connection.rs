//! Connections to a configured Redis deployment.
//!
//! A [`RedisConnection`] is one multiplexed connection (per node) that reconnects by itself: a
//! [`ConnectionManager`] for a single node, a cluster-aware [`ClusterConnection`] for a Redis
//! Cluster. Cloning is cheap and every clone shares the same socket(s), so one connection serves
//! a whole service. It implements [`redis::aio::ConnectionLike`], so any `redis::cmd(…)` or
//! `redis::pipe()` can be sent through it.
//!
//! Invariant: a value exists only after the initial connection succeeded. A caller that must
//! survive an unreachable Redis at startup keeps retrying [`RedisConnection::connect`] itself.
//! Once connected, a lost connection is re-established by the connection on the next command;
//! commands issued during an outage fail fast (see [`RECONNECT_RETRIES`]) rather than queue.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::config::{cluster_client, RedisServer, RedisTopology};

/// A configured deployment could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum RedisConnectionError {
    /// The initial connection failed (refused, wrong credentials, not a cluster, …).
    #[error("could not connect to redis at {nodes} (configured by {setting})")]
    Connect {
        /// The setting the deployment came from, e.g. `processing.redis`.
        setting: String,
        /// The node address(es), without credentials.
        nodes: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// The initial connection did not complete within `create_timeout`.
    #[error(
        "could not connect to redis at {nodes} (configured by {setting}): \
         no connection within {timeout:?} (create_timeout)"
    )]
    ConnectTimeout {
        /// The setting the deployment came from.
        setting: String,
        /// The node address(es), without credentials.
        nodes: String,
        /// The `create_timeout` that elapsed.
        timeout: Duration,
    },
}

/// Reconnection attempts after the first one when a single-node connection was lost.
///
/// Commands issued while the manager reconnects wait for that reconnection. The client's
/// default (six retries with exponential backoff) makes every command of an outage block for
/// about ten seconds before it fails; with one retry a refused connection fails within a few
/// hundred milliseconds, so callers notice the outage (and fall back) quickly, and the next
/// command simply starts a new attempt.
const RECONNECT_RETRIES: usize = 1;

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A shared, self-reconnecting connection to one deployment (see the module docs).
#[derive(Clone)]
pub struct RedisConnection {
    connection: Connection,
    /// Upper bound of one command including waiting for an in-flight slot; `None` leaves the
    /// bound to the client's response timeout alone.
    command_deadline: Option<Duration>,
    /// Used by the pipeline deadline error message and by callers' diagnostics.
    nodes: String,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("nodes", &self.nodes)
            .field("cluster", &self.is_cluster())
            .finish()
    }
}

impl RedisConnection {
    /// Connects to `server`, applying its pool options (see [`crate::RedisPoolOptions`]).
    pub async fn connect(server: &RedisServer) -> Result<Self, RedisConnectionError> {
        let options = server.options;
        let nodes = server.describe_nodes();
        let connect_error = |source| RedisConnectionError::Connect {
            setting: server.setting.clone(),
            nodes: nodes.clone(),
            source,
        };
        let connection = match &server.topology {
            RedisTopology::Single(info) => {
                let client = redis::Client::open(info.clone()).map_err(connect_error)?;
                // The manager retries a failed first attempt with backoff and would report
                // only a timeout; one plain attempt first surfaces the actual cause (refused,
                // authentication failed, unknown host).
                let probe_config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(options.create_timeout))
                    .set_response_timeout(Some(options.response_timeout));
                client
                    .get_multiplexed_async_connection_with_config(&probe_config)
                    .await
                    .map_err(connect_error)?;
                let manager_config = ConnectionManagerConfig::new()
                    .set_number_of_retries(RECONNECT_RETRIES)
                    .set_connection_timeout(Some(options.create_timeout))
                    .set_response_timeout(Some(options.response_timeout))
                    .set_concurrency_limit(options.concurrency_limit());
                // Bounding the manager's start by `create_timeout` keeps a server that vanished
                // right after the probe from stalling startup through the retries.
                let manager = tokio::time::timeout(
                    options.create_timeout,
                    ConnectionManager::new_with_config(client, manager_config),
                )
                .await
                .map_err(|_| RedisConnectionError::ConnectTimeout {
                    setting: server.setting.clone(),
                    nodes: nodes.clone(),
                    timeout: options.create_timeout,
                })?
                .map_err(connect_error)?;
                Connection::Single(manager)
            }
            RedisTopology::Cluster(seed_nodes) => {
                let client = cluster_client(seed_nodes, &options).map_err(connect_error)?;
                let cluster = client.get_async_connection().await.map_err(connect_error)?;
                Connection::Cluster(cluster)
            }
        };
        Ok(Self {
            connection,
            command_deadline: options
                .wait_timeout
                .map(|wait| wait.saturating_add(options.response_timeout)),
            nodes,
        })
    }

    /// Whether this is a Redis Cluster connection, where multi-key commands and transactions
    /// must stay within one hash slot.
    pub fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    /// The node address(es), without credentials.
    pub fn nodes(&self) -> &str {
        &self.nodes
    }

    /// Sends `PING`; succeeds when the deployment answers.
    pub async fn ping(&mut self) -> redis::RedisResult<()> {
        redis::cmd("PING")
            .query_async::<String>(self)
            .await
            .map(drop)
    }
}

fn deadline_error(deadline: Duration) -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no redis response within {deadline:?} (wait_timeout + response_timeout)"),
    ))
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let deadline = self.command_deadline;
        let future = match &mut self.connection {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        };
        let Some(deadline) = deadline else {
            return future;
        };
        Box::pin(async move {
            tokio::time::timeout(deadline, future)
                .await
                .unwrap_or_else(|_| Err(deadline_error(deadline)))
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let deadline = self.command_deadline;
        let future = match &mut self.connection {
            Connection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Connection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        };
        let Some(deadline) = deadline else {
            return future;
        };
        Box::pin(async move {
            tokio::time::timeout(deadline, future)
                .await
                .unwrap_or_else(|_| Err(deadline_error(deadline)))
        })
    }

    fn get_db(&self) -> i64 {
        match &self.connection {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}
