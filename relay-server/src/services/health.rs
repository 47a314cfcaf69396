//! Readiness (http-api.md §8) and the memory watermark that refuses ingestion when the
//! system runs out of memory (§6.1).
//!
//! A background task evaluates the probes every `health.refresh_interval_ms`; the endpoint
//! only reads the latest result, which counts as unhealthy once it is older than
//! 1.1 × (refresh interval + probe timeout). Memory is sampled separately, every
//! `health.memory_stat_refresh_frequency_ms`, because the ingestion path consults it.
//!
//! A processing relay with `processing.redis` has one more probe, `redis`: it fails while the
//! project-config Redis is unreachable (also while it has been down since startup). The probe
//! only reads the flag kept by the Redis monitor ([`RedisProjectSource`]), which pings Redis
//! on its own schedule, so evaluating readiness never waits for Redis.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use relay_config::{AuthReady, Config, HealthConfig, RelayMode};

use crate::services::projects::redis_source::RedisProjectSource;
use crate::services::shutdown::ShutdownHandle;
use crate::services::upstream::UpstreamHandle;
use crate::utils::budget::MemoryBudget;

/// Staleness factor of the last readiness evaluation.
const STALENESS_FACTOR: f64 = 1.1;

/// System memory figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryStat {
    pub used: u64,
    pub total: u64,
}

impl MemoryStat {
    /// Reads `/proc/meminfo` (used = total − available).
    pub fn current() -> Option<MemoryStat> {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        Self::parse_meminfo(&text)
    }

    fn parse_meminfo(text: &str) -> Option<MemoryStat> {
        let field = |name: &str| -> Option<u64> {
            let line = text.lines().find(|line| line.starts_with(name))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        };
        let total = field("MemTotal:")?;
        let available = field("MemAvailable:")?;
        Some(MemoryStat {
            used: total.saturating_sub(available),
            total,
        })
    }
}

struct HealthInner {
    config: Arc<Config>,
    /// The `health` section; the one part of the config applied again on reload (config.md §1.3).
    health: RwLock<HealthConfig>,
    upstream: UpstreamHandle,
    budget: MemoryBudget,
    shutdown: ShutdownHandle,
    /// The project-config Redis of a processing relay, probed as `redis`.
    redis: Option<RedisProjectSource>,
    last_ready: Mutex<Option<(Instant, bool)>>,
    memory_exhausted: AtomicBool,
}

/// Handle to the health check; cheap to clone.
#[derive(Clone)]
pub struct HealthCheck {
    inner: Arc<HealthInner>,
}

impl HealthCheck {
    pub fn start(
        config: Arc<Config>,
        upstream: UpstreamHandle,
        budget: MemoryBudget,
        shutdown: ShutdownHandle,
        redis: Option<RedisProjectSource>,
    ) -> HealthCheck {
        let check = HealthCheck {
            inner: Arc::new(HealthInner {
                health: RwLock::new(config.health().clone()),
                config,
                upstream,
                budget,
                shutdown,
                redis,
                last_ready: Mutex::new(None),
                memory_exhausted: AtomicBool::new(false),
            }),
        };
        tokio::spawn(check.clone().run_readiness());
        tokio::spawn(check.clone().run_memory_sampler());
        check
    }

    /// Applies a reloaded `health` section.
    pub fn update_config(&self, health: HealthConfig) {
        *self.inner.health.write() = health;
    }

    /// Whether ingestion must be refused for lack of memory.
    pub fn memory_exhausted(&self) -> bool {
        self.inner.memory_exhausted.load(Ordering::Relaxed)
    }

    /// The latest readiness, false when stale, unknown or shutting down.
    pub fn is_ready(&self) -> bool {
        if self.inner.shutdown.is_draining() {
            return false;
        }
        let max_age = {
            let health = self.inner.health.read();
            Duration::from_millis(health.refresh_interval_ms + health.probe_timeout_ms)
                .mul_f64(STALENESS_FACTOR)
        };
        match *self.inner.last_ready.lock() {
            Some((evaluated_at, ready)) => ready && evaluated_at.elapsed() <= max_age,
            None => false,
        }
    }

    fn memory_over_watermark(&self, stat: MemoryStat) -> Option<String> {
        let health = self.inner.health.read();
        let percent = stat.used as f64 / stat.total.max(1) as f64;
        if percent >= f64::from(health.max_memory_percent) {
            return Some(format!(
                "Not enough memory, {} / {} ({:.2}% >= {:.2}%)",
                stat.used,
                stat.total,
                percent * 100.0,
                f64::from(health.max_memory_percent) * 100.0
            ));
        }
        if let Some(max_bytes) = &health.max_memory_bytes {
            if stat.used >= max_bytes.as_bytes() {
                return Some(format!(
                    "Not enough memory, {} / {} ({} >= {})",
                    stat.used,
                    stat.total,
                    stat.used,
                    max_bytes.as_bytes()
                ));
            }
        }
        None
    }

    async fn run_memory_sampler(self) {
        loop {
            let interval =
                Duration::from_millis(self.inner.health.read().memory_stat_refresh_frequency_ms);
            if let Some(stat) = MemoryStat::current() {
                let exhausted = self.memory_over_watermark(stat).is_some();
                self.inner
                    .memory_exhausted
                    .store(exhausted, Ordering::Relaxed);
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = self.inner.shutdown.finished() => return,
            }
        }
    }

    fn evaluate(&self) -> bool {
        let mut ready = true;
        if let Some(stat) = MemoryStat::current() {
            if let Some(message) = self.memory_over_watermark(stat) {
                tracing::error!("{message}");
                tracing::error!("Health check probe 'system memory' failed");
                ready = false;
            }
        }
        let config = &self.inner.config;
        let needs_auth =
            config.mode() == RelayMode::Managed && config.auth_ready() == AuthReady::Authenticated;
        if needs_auth && !self.inner.upstream.auth_state().is_authenticated() {
            tracing::debug!("Health check probe 'auth' failed");
            ready = false;
        }
        if !self.inner.budget.has_capacity() {
            tracing::error!("Health check probe 'spool health' failed");
            ready = false;
        }
        if let Some(redis) = &self.inner.redis {
            if !redis.is_reachable() {
                // The monitor logs the cause when the outage starts; this names the probe.
                // Before the first connection attempt finished, not ready is expected.
                if redis.has_attempted() {
                    tracing::error!("Health check probe 'redis' failed");
                } else {
                    tracing::debug!("Health check probe 'redis' waits for the first connection");
                }
                ready = false;
            }
        }
        ready
    }

    async fn run_readiness(self) {
        loop {
            let interval = Duration::from_millis(self.inner.health.read().refresh_interval_ms);
            let ready = self.evaluate();
            *self.inner.last_ready.lock() = Some((Instant::now(), ready));
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = self.inner.shutdown.finished() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "processing")]
    async fn health_check(redis: Option<RedisProjectSource>) -> HealthCheck {
        // Proxy mode: no auth probe, so only memory, spool and redis decide.
        let config = Arc::new(Config::from_yaml_str("relay: {mode: proxy}").unwrap());
        let shutdown = ShutdownHandle::new();
        let upstream = UpstreamHandle::start(config.clone(), shutdown.clone()).unwrap();
        let budget = MemoryBudget::new(1 << 20, 100);
        HealthCheck::start(config, upstream, budget, shutdown, redis)
    }

    #[tokio::test]
    #[cfg(feature = "processing")]
    async fn redis_probe_follows_the_monitor() {
        let baseline = health_check(None).await.evaluate();
        let down = health_check(Some(RedisProjectSource::not_connected_for_tests())).await;
        assert!(!down.evaluate());
        let up = RedisProjectSource::connected_for_tests("redis://127.0.0.1:6379", "unused").await;
        assert_eq!(health_check(Some(up)).await.evaluate(), baseline);
    }

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    250 kB\n";
        let stat = MemoryStat::parse_meminfo(text).unwrap();
        assert_eq!(stat.total, 1_024_000);
        assert_eq!(stat.used, 768_000);
    }
}
