//! Redis as the first source of project configs of a processing relay (redis-and-quotas.md §2,
//! processing.md §1.3).
//!
//! A [`RedisProjectSource`] exists when processing is enabled and `processing.redis` is
//! configured. The fetcher asks it for every queued key (except `no_cache` requests) before the
//! upstream; what Redis cannot answer (missing key, unparsable value, any Redis error) goes to
//! the upstream HTTP endpoint as usual. Results enter the same in-memory cache as upstream
//! results, so fresh / stale / evicted timing, refreshes and pending backoff are identical for
//! both sources; Redis TTLs are the writer's business and are never looked at.
//!
//! Connection management is owned by a monitor task (started with the source):
//!
//! * Redis may be down when relay starts: relay starts anyway, the monitor keeps trying to
//!   connect, and until it succeeds every key is fetched from the upstream.
//! * Once connected, the monitor sends `PING` every [`RedisProjectSource::monitor_interval`]
//!   (bounded by `health.probe_timeout_ms`) and keeps a *reachable* flag. The readiness check
//!   reads that flag (cheap, never blocks on Redis) and the fetcher skips Redis while it is
//!   down instead of waiting for a doomed round trip.
//! * Every outage and every recovery is logged once; while Redis stays down the error is
//!   repeated every [`REPEAT_ERROR_INTERVAL`] so it stays visible.
//!
//! Invariant: the source never blocks the fetcher for longer than one bounded Redis round trip,
//! and only while it believes Redis to be reachable.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use relay_config::Config;
use relay_protocol::ProjectKey;
use relay_redis::{
    CacheLookup, ProjectConfigCache, ProjectConfigCacheError, RedisConfigError, RedisConnection,
    RedisPools, RedisServer,
};
use tokio::sync::watch;

use crate::services::shutdown::ShutdownHandle;

/// Lower bound of the monitor interval, so a tiny `health.refresh_interval_ms` cannot turn the
/// monitor into a busy loop.
const MIN_MONITOR_INTERVAL: Duration = Duration::from_millis(100);
/// Upper bound of the monitor interval: an outage or recovery is noticed within about a second
/// even with the default 3 s health refresh interval.
const MAX_MONITOR_INTERVAL: Duration = Duration::from_secs(1);
/// While Redis stays unreachable its error is logged again this often.
pub const REPEAT_ERROR_INTERVAL: Duration = Duration::from_secs(30);

/// Redis cannot be asked right now; the keys go to the upstream.
#[derive(Debug, thiserror::Error)]
pub enum RedisUnavailable {
    /// No connection was ever established (Redis down since startup).
    #[error("not connected to redis at {nodes} (configured by {setting})")]
    NotConnected { nodes: String, setting: String },
    /// The monitor's last `PING` (or a lookup) failed.
    #[error("redis at {nodes} (configured by {setting}) is unreachable")]
    Unreachable { nodes: String, setting: String },
}

/// The monitor's view of the deployment.
struct Health {
    reachable: bool,
    /// When the monitor last confirmed that Redis answers.
    last_ok: Option<Instant>,
    /// When the outage (if any) was last logged.
    last_error_log: Option<Instant>,
    /// When skipping Redis during an outage was last logged by the fetcher.
    last_skip_log: Option<Instant>,
}

struct Inner {
    server: RedisServer,
    prefix: String,
    /// Present once the first connection succeeded; the connection reconnects by itself
    /// afterwards.
    cache: Mutex<Option<ProjectConfigCache>>,
    health: Mutex<Health>,
    /// Fast path of [`RedisProjectSource::is_reachable`].
    reachable: AtomicBool,
    /// Becomes true once the first connection attempt has finished, successfully or not.
    attempted: watch::Sender<bool>,
    monitor_interval: Duration,
    ping_timeout: Duration,
}

/// Handle to the Redis project-config source; cheap to clone.
#[derive(Clone)]
pub struct RedisProjectSource {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisProjectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProjectSource")
            .field("nodes", &self.inner.server.describe_nodes())
            .field("prefix", &self.inner.prefix)
            .field("reachable", &self.is_reachable())
            .finish()
    }
}

impl RedisProjectSource {
    /// The source of a processing relay with `processing.redis`, its monitor already running;
    /// `None` when processing is disabled or no Redis is configured. Never fails because
    /// Redis is unreachable, only for a broken setting. Must run inside the tokio runtime.
    pub fn start(
        config: &Config,
        shutdown: ShutdownHandle,
    ) -> Result<Option<RedisProjectSource>, RedisConfigError> {
        if !config.processing_enabled() {
            return Ok(None);
        }
        let Some(pools) = RedisPools::from_relay_config(config)? else {
            return Ok(None);
        };
        let source = RedisProjectSource::new(
            pools.project_configs,
            config.projectconfig_cache_prefix().to_owned(),
            Self::monitor_interval(config),
            config.health_probe_timeout(),
        );
        tokio::spawn(source.clone().run_monitor(shutdown));
        Ok(Some(source))
    }

    /// A source that is not connected yet (the monitor connects it).
    fn new(
        server: RedisServer,
        prefix: String,
        monitor_interval: Duration,
        ping_timeout: Duration,
    ) -> RedisProjectSource {
        let (attempted, _) = watch::channel(false);
        RedisProjectSource {
            inner: Arc::new(Inner {
                server,
                prefix,
                cache: Mutex::new(None),
                health: Mutex::new(Health {
                    reachable: false,
                    last_ok: None,
                    last_error_log: None,
                    last_skip_log: None,
                }),
                reachable: AtomicBool::new(false),
                attempted,
                monitor_interval,
                ping_timeout,
            }),
        }
    }

    /// A source connected to `url` under `prefix`, for tests elsewhere in the crate.
    #[cfg(test)]
    pub(crate) async fn connected_for_tests(url: &str, prefix: &str) -> RedisProjectSource {
        let server = RedisServer::from_url(
            url,
            "processing.redis",
            relay_redis::RedisPoolOptions::with_max_connections(4),
        )
        .unwrap();
        let source = RedisProjectSource::new(
            server,
            prefix.to_owned(),
            Duration::from_millis(100),
            Duration::from_millis(500),
        );
        source.check().await;
        source.inner.attempted.send_replace(true);
        assert!(source.is_reachable(), "the test redis at {url} must be up");
        source
    }

    /// A source whose first connection attempt failed (nothing listens on its port).
    #[cfg(test)]
    pub(crate) fn not_connected_for_tests() -> RedisProjectSource {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        let server = RedisServer::from_url(
            &format!("redis://127.0.0.1:{port}"),
            "processing.redis",
            relay_redis::RedisPoolOptions::with_max_connections(4),
        )
        .unwrap();
        let source = RedisProjectSource::new(
            server,
            "unused".to_owned(),
            Duration::from_millis(100),
            Duration::from_millis(500),
        );
        source.inner.attempted.send_replace(true);
        source
    }

    /// How often the monitor pings: the health refresh interval, clamped to
    /// [`MIN_MONITOR_INTERVAL`]..=[`MAX_MONITOR_INTERVAL`].
    pub fn monitor_interval(config: &Config) -> Duration {
        config
            .health_refresh_interval()
            .clamp(MIN_MONITOR_INTERVAL, MAX_MONITOR_INTERVAL)
    }

    /// The node address(es), without credentials.
    pub fn nodes(&self) -> String {
        self.inner.server.describe_nodes()
    }

    /// Whether the first connection attempt has finished (successfully or not).
    pub fn has_attempted(&self) -> bool {
        *self.inner.attempted.borrow()
    }

    /// Whether Redis answered the monitor recently. Cheap; never touches Redis.
    pub fn is_reachable(&self) -> bool {
        if !self.inner.reachable.load(Ordering::Acquire) {
            return false;
        }
        // A monitor that stopped reporting (it is bounded, so this means the runtime is
        // starved or shutting down) must not keep the last good answer alive forever.
        let max_age = 3 * self.inner.monitor_interval + self.inner.ping_timeout;
        self.inner
            .health
            .lock()
            .last_ok
            .is_some_and(|last_ok| last_ok.elapsed() <= max_age)
    }

    /// Looks up many keys (redis-and-quotas.md §2.2); one result per request, in order.
    /// Fails as a whole, without touching Redis, while Redis is known to be unreachable.
    pub async fn lookup_many(
        &self,
        requests: &[(ProjectKey, Option<String>)],
    ) -> Result<Vec<Result<CacheLookup, ProjectConfigCacheError>>, RedisUnavailable> {
        // The first fetch may race the startup connection; waiting for that one bounded
        // attempt keeps a relay that just started from asking the upstream needlessly.
        let mut attempted = self.inner.attempted.subscribe();
        let _ = attempted.wait_for(|attempted| *attempted).await;

        let cache = self.inner.cache.lock().clone();
        let Some(cache) = cache else {
            return Err(RedisUnavailable::NotConnected {
                nodes: self.nodes(),
                setting: self.inner.server.setting.clone(),
            });
        };
        if !self.inner.reachable.load(Ordering::Acquire) {
            return Err(RedisUnavailable::Unreachable {
                nodes: self.nodes(),
                setting: self.inner.server.setting.clone(),
            });
        }
        let results = cache.lookup_many(requests).await;
        if results.iter().any(|result| {
            result
                .as_ref()
                .is_err_and(|error| error.is_connection_error())
        }) {
            // Skip Redis until the monitor's next successful PING, instead of paying for one
            // failing round trip per batch.
            self.set_unreachable();
        }
        Ok(results)
    }

    /// Whether the fetcher should log that it skipped Redis now (at most once per
    /// [`REPEAT_ERROR_INTERVAL`], so an outage does not log once per batch).
    pub fn should_log_skip(&self) -> bool {
        let mut health = self.inner.health.lock();
        let due = health
            .last_skip_log
            .is_none_or(|last| last.elapsed() >= REPEAT_ERROR_INTERVAL);
        if due {
            health.last_skip_log = Some(Instant::now());
        }
        due
    }

    fn set_unreachable(&self) {
        self.inner.reachable.store(false, Ordering::Release);
        self.inner.health.lock().reachable = false;
    }

    /// Records a successful connect or `PING`, logging a recovery.
    fn report_ok(&self, connected_now: bool) {
        let mut health = self.inner.health.lock();
        let was_down = !health.reachable;
        health.reachable = true;
        health.last_ok = Some(Instant::now());
        health.last_error_log = None;
        health.last_skip_log = None;
        self.inner.reachable.store(true, Ordering::Release);
        drop(health);
        if connected_now {
            tracing::info!(
                "connected to redis at {} for project configs (prefix {:?})",
                self.nodes(),
                self.inner.prefix
            );
        } else if was_down {
            tracing::info!(
                "redis at {} is reachable again, reading project configs from it",
                self.nodes()
            );
        }
    }

    /// Records a failed connect or `PING`, logging it at the start of an outage and then every
    /// [`REPEAT_ERROR_INTERVAL`].
    fn report_failure(&self, what: &str, error: &str) {
        let mut health = self.inner.health.lock();
        health.reachable = false;
        self.inner.reachable.store(false, Ordering::Release);
        let due = health
            .last_error_log
            .is_none_or(|last| last.elapsed() >= REPEAT_ERROR_INTERVAL);
        if !due {
            return;
        }
        health.last_error_log = Some(Instant::now());
        drop(health);
        tracing::error!(
            "{what}: {error}; project configs are fetched from the upstream until redis is \
             reachable again"
        );
    }

    /// One monitor step: connect when not connected yet, else `PING`.
    async fn check(&self) {
        let cache = self.inner.cache.lock().clone();
        match cache {
            None => {
                let server = &self.inner.server;
                // `connect` bounds each stage by `create_timeout`; the outer bound only guards
                // against a cluster handshake that would wait longer.
                let limit = server.options.create_timeout * 2 + self.inner.ping_timeout;
                let result = tokio::time::timeout(limit, RedisConnection::connect(server)).await;
                match result {
                    Ok(Ok(connection)) => {
                        let cache = ProjectConfigCache::new(connection, self.inner.prefix.clone());
                        *self.inner.cache.lock() = Some(cache);
                        self.report_ok(true);
                    }
                    Ok(Err(error)) => self.report_failure(
                        "cannot connect to redis for project configs",
                        &error_chain(&error),
                    ),
                    Err(_) => self.report_failure(
                        "cannot connect to redis for project configs",
                        &format!(
                            "no connection to redis at {} (configured by {}) within {limit:?}",
                            self.nodes(),
                            server.setting
                        ),
                    ),
                }
            }
            Some(cache) => {
                let mut connection = cache.connection();
                let result = tokio::time::timeout(self.inner.ping_timeout, connection.ping()).await;
                let what = format!(
                    "redis at {} (configured by {}) is unreachable",
                    self.nodes(),
                    self.inner.server.setting
                );
                match result {
                    Ok(Ok(())) => self.report_ok(false),
                    Ok(Err(error)) => self.report_failure(&what, &error_chain(&error)),
                    Err(_) => self.report_failure(
                        &what,
                        &format!("no answer to PING within {:?}", self.inner.ping_timeout),
                    ),
                }
            }
        }
    }

    async fn run_monitor(self, shutdown: ShutdownHandle) {
        loop {
            self.check().await;
            self.inner.attempted.send_replace(true);
            tokio::select! {
                _ = tokio::time::sleep(self.inner.monitor_interval) => {}
                _ = shutdown.finished() => return,
            }
        }
    }
}

/// `error: cause: cause…`, because the top-level messages of the Redis errors name only the
/// operation ("redis command on key … failed") and the cause is what an operator needs.
pub fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source's message; print it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_redis::RedisPoolOptions;

    fn source_for(url: &str) -> RedisProjectSource {
        let server = RedisServer::from_url(
            url,
            "processing.redis",
            RedisPoolOptions::with_max_connections(4),
        )
        .unwrap();
        RedisProjectSource::new(
            server,
            "relayconfig-unit".to_owned(),
            Duration::from_millis(100),
            Duration::from_millis(500),
        )
    }

    fn unused_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn no_source_without_processing_or_redis() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let config = Config::from_yaml_str("processing: {redis: 'redis://127.0.0.1'}").unwrap();
            assert!(RedisProjectSource::start(&config, ShutdownHandle::new())
                .unwrap()
                .is_none());
            let config = Config::from_yaml_str(
                "processing: {enabled: true, kafka_config: [{name: bootstrap.servers, value: x}]}",
            )
            .unwrap();
            assert!(RedisProjectSource::start(&config, ShutdownHandle::new())
                .unwrap()
                .is_none());
        });
    }

    #[test]
    fn monitor_interval_is_clamped() {
        let interval = |ms: u64| {
            let yaml = format!("health: {{refresh_interval_ms: {ms}}}");
            RedisProjectSource::monitor_interval(&Config::from_yaml_str(&yaml).unwrap())
        };
        assert_eq!(interval(10), MIN_MONITOR_INTERVAL);
        assert_eq!(interval(500), Duration::from_millis(500));
        assert_eq!(interval(3000), MAX_MONITOR_INTERVAL);
    }

    #[test]
    fn error_chain_lists_causes_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other("inner cause"));
        assert_eq!(error_chain(&error), "outer: inner cause");
    }

    #[tokio::test]
    async fn unreachable_at_start_then_reachable_lookups() {
        // Nothing listens on this port: the first attempt fails, lookups are refused without
        // waiting, and the source reports unreachable.
        let source = source_for(&format!("redis://127.0.0.1:{}", unused_port()));
        assert!(!source.is_reachable());
        source.check().await;
        source.inner.attempted.send_replace(true);
        assert!(!source.is_reachable());
        let key = ProjectKey::parse("a94ae32be2584e0bbd7a4cbb95971fee").unwrap();
        let error = source.lookup_many(&[(key, None)]).await.unwrap_err();
        assert!(matches!(error, RedisUnavailable::NotConnected { .. }));
        assert!(error
            .to_string()
            .starts_with("not connected to redis at 127.0.0.1:"));
        // Logged once, then only after the repeat interval.
        assert!(source.should_log_skip());
        assert!(!source.should_log_skip());

        // The shared test Redis: connects, pings, answers lookups.
        let source = source_for("redis://127.0.0.1:6379");
        source.check().await;
        source.inner.attempted.send_replace(true);
        assert!(source.is_reachable());
        source.check().await;
        assert!(source.is_reachable());
        let results = source.lookup_many(&[(key, None)]).await.unwrap();
        assert!(matches!(results[0], Ok(CacheLookup::Pending)));
        // A failure report makes lookups skip Redis until the next good PING.
        source.report_failure("test", "simulated");
        assert!(!source.is_reachable());
        assert!(matches!(
            source.lookup_many(&[(key, None)]).await,
            Err(RedisUnavailable::Unreachable { .. })
        ));
        source.check().await;
        assert!(source.is_reachable());
    }
}
