//! The project-config cache and connections against a real Redis on 127.0.0.1:6379 (and, for
//! cluster behaviour, a single-node Redis Cluster started from the `redis-server` binary).
//!
//! Every test works under its own key prefix and removes its keys at the end, so the tests can
//! run in parallel with each other and with anything else using that Redis.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use relay_protocol::ProjectKey;
use relay_redis::{
    CacheExpiry, CacheLookup, ProjectConfigCache, ProjectConfigCacheError, RedisConnection,
    RedisConnectionError, RedisPoolOptions, RedisPools, RedisServer, ValueEncoding,
};
use serde_json::{json, Map, Value};

/// The Redis the test suite provides (`scripts/services.sh`).
const REDIS_URL: &str = "redis://127.0.0.1:6379";
const PUBLIC_KEY: &str = "a94ae32be2584e0bbd7a4cbb95971fee";
const OTHER_PUBLIC_KEY: &str = "31a5a894b4524f74a9a8d0e27e21ba91";
/// How long a test polls for something that Redis does asynchronously (expiry, startup).
const POLL_LIMIT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// The full slot range of a Redis Cluster.
const LAST_CLUSTER_SLOT: u16 = 16383;

static PREFIX_COUNTER: AtomicU64 = AtomicU64::new(0);

fn project_key(key: &str) -> ProjectKey {
    ProjectKey::parse(key).unwrap()
}

/// A prefix no other test (or test process) uses.
fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let sequence = PREFIX_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "relay-redis-test:{test}:{}:{nanos}:{sequence}",
        std::process::id()
    )
}

fn state(revision: Option<&str>) -> Map<String, Value> {
    let value = json!({
        "disabled": false,
        "projectId": 42,
        "slug": "project-42",
        "publicKeys": [{"publicKey": PUBLIC_KEY, "numericId": 123}],
        "rev": revision,
        "lastChange": "2025-01-01T00:00:00Z",
        "organizationId": 1,
        "config": {"allowedDomains": ["*"], "features": [], "quotas": []}
    });
    let Value::Object(mut map) = value else {
        unreachable!("a JSON object literal");
    };
    if revision.is_none() {
        map.remove("rev");
    }
    map
}

fn options() -> RedisPoolOptions {
    RedisPoolOptions::with_max_connections(4)
}

async fn connect(url: &str) -> RedisConnection {
    let server = RedisServer::from_url(url, "test", options()).unwrap();
    RedisConnection::connect(&server).await.unwrap()
}

/// A cache under a fresh prefix plus a raw connection for inspecting and cleaning up.
struct TestCache {
    cache: ProjectConfigCache,
    raw: RedisConnection,
}

impl TestCache {
    async fn new(test: &str) -> Self {
        Self::with_connection(test, connect(REDIS_URL).await).await
    }

    async fn with_connection(test: &str, connection: RedisConnection) -> Self {
        Self {
            cache: ProjectConfigCache::new(connection.clone(), unique_prefix(test)),
            raw: connection,
        }
    }

    fn config_key(&self, key: &str) -> String {
        format!("{}:{key}", self.cache.prefix())
    }

    fn revision_key(&self, key: &str) -> String {
        format!("{}:{key}.rev", self.cache.prefix())
    }

    async fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        self.raw.clone().get(key).await.unwrap()
    }

    async fn raw_set(&self, key: &str, value: &[u8]) {
        self.raw.clone().set::<_, _, ()>(key, value).await.unwrap();
    }

    async fn raw_pttl(&self, key: &str) -> i64 {
        self.raw.clone().pttl(key).await.unwrap()
    }

    /// Deletes every key under the prefix, one by one (cluster-safe).
    async fn cleanup(self) {
        let mut connection = self.raw.clone();
        let pattern = format!("{}:*", self.cache.prefix());
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut connection)
            .await
            .unwrap();
        for key in keys {
            connection.del::<_, ()>(&key).await.unwrap();
        }
    }
}

#[tokio::test]
async fn round_trip_compressed_writes_the_upstream_format() {
    let test = TestCache::new("round-trip-zstd").await;
    let key = project_key(PUBLIC_KEY);
    let written = state(Some("rev-1"));
    test.cache.put(key, &written, None).await.unwrap();

    let cached = test.cache.get(key).await.unwrap().unwrap();
    assert_eq!(cached.state, written);
    assert_eq!(cached.revision.as_deref(), Some("rev-1"));
    assert_eq!(cached.encoding, ValueEncoding::Zstd);
    assert!(!cached.is_disabled());

    // The stored bytes: one zstd frame of the compact JSON, and the bare revision.
    let stored = test.raw_get(&test.config_key(PUBLIC_KEY)).await.unwrap();
    assert_eq!(&stored[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic number");
    let text = zstd::decode_all(stored.as_slice()).unwrap();
    assert_eq!(text, serde_json::to_vec(&written).unwrap());
    let revision = test.raw_get(&test.revision_key(PUBLIC_KEY)).await.unwrap();
    assert_eq!(revision, b"rev-1");
    assert_eq!(
        test.cache.get_revision(key).await.unwrap().as_deref(),
        Some("rev-1")
    );
    test.cleanup().await;
}

#[tokio::test]
async fn round_trip_plain_json() {
    let mut test = TestCache::new("round-trip-plain").await;
    test.cache = test.cache.with_write_encoding(ValueEncoding::PlainJson);
    let key = project_key(PUBLIC_KEY);
    let written = state(Some("rev-plain"));
    test.cache.put(key, &written, None).await.unwrap();

    let stored = test.raw_get(&test.config_key(PUBLIC_KEY)).await.unwrap();
    assert_eq!(stored, serde_json::to_vec(&written).unwrap());
    let cached = test.cache.get(key).await.unwrap().unwrap();
    assert_eq!(cached.encoding, ValueEncoding::PlainJson);
    assert_eq!(cached.state, written);
    assert_eq!(cached.revision.as_deref(), Some("rev-plain"));
    test.cleanup().await;
}

#[tokio::test]
async fn reads_what_another_writer_stored() {
    let test = TestCache::new("foreign-writer").await;
    // Pretty-printed plain JSON, as any JSON writer may produce.
    let pretty = serde_json::to_string_pretty(&state(Some("plain-rev"))).unwrap();
    test.raw_set(&test.config_key(PUBLIC_KEY), pretty.as_bytes())
        .await;
    test.raw_set(&test.revision_key(PUBLIC_KEY), b"plain-rev")
        .await;
    // A zstd frame at a different compression level than ours.
    const FOREIGN_LEVEL: i32 = 19;
    let mut other = state(Some("zstd-rev"));
    other.insert("projectId".into(), json!(7));
    let frame = zstd::encode_all(
        serde_json::to_vec(&other).unwrap().as_slice(),
        FOREIGN_LEVEL,
    )
    .unwrap();
    test.raw_set(&test.config_key(OTHER_PUBLIC_KEY), &frame)
        .await;

    let plain = test
        .cache
        .get(project_key(PUBLIC_KEY))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.encoding, ValueEncoding::PlainJson);
    assert_eq!(plain.state, state(Some("plain-rev")));
    let compressed = test
        .cache
        .get(project_key(OTHER_PUBLIC_KEY))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(compressed.encoding, ValueEncoding::Zstd);
    assert_eq!(compressed.state["projectId"], json!(7));
    assert_eq!(compressed.revision.as_deref(), Some("zstd-rev"));
    test.cleanup().await;
}

#[tokio::test]
async fn missing_key() {
    let test = TestCache::new("missing").await;
    let key = project_key(PUBLIC_KEY);
    assert_eq!(test.cache.get(key).await.unwrap(), None);
    assert_eq!(test.cache.get_revision(key).await.unwrap(), None);
    assert_eq!(
        test.cache.lookup(key, None).await.unwrap(),
        CacheLookup::Pending
    );
    assert_eq!(
        test.cache.lookup(key, Some("held")).await.unwrap(),
        CacheLookup::Pending
    );
    assert_eq!(test.cache.expiry(key).await.unwrap(), CacheExpiry::Missing);
    assert!(!test.cache.delete(key).await.unwrap());
    test.cleanup().await;
}

#[tokio::test]
async fn lookup_follows_the_revision_algorithm() {
    let test = TestCache::new("lookup").await;
    let key = project_key(PUBLIC_KEY);
    test.cache.put(key, &state(Some("r1")), None).await.unwrap();

    // Nothing held: the state is new.
    let CacheLookup::Found(found) = test.cache.lookup(key, None).await.unwrap() else {
        panic!("expected a state");
    };
    assert_eq!(found.revision.as_deref(), Some("r1"));
    // Held revision equals the `.rev` key: not modified (step 1).
    assert_eq!(
        test.cache.lookup(key, Some("r1")).await.unwrap(),
        CacheLookup::NotModified
    );
    // A different held revision: the new state.
    let CacheLookup::Found(found) = test.cache.lookup(key, Some("r0")).await.unwrap() else {
        panic!("expected a state");
    };
    assert_eq!(found.revision.as_deref(), Some("r1"));

    // `.rev` differs but the value's `rev` equals the held one: not modified (step 4).
    test.raw_set(&test.revision_key(PUBLIC_KEY), b"something-else")
        .await;
    assert_eq!(
        test.cache.lookup(key, Some("r1")).await.unwrap(),
        CacheLookup::NotModified
    );
    // `.rev` equals the held revision: the value is not even read (step 1), so a stale
    // `.rev` wins until the writer updates it.
    assert_eq!(
        test.cache
            .lookup(key, Some("something-else"))
            .await
            .unwrap(),
        CacheLookup::NotModified
    );
    test.cleanup().await;
}

#[tokio::test]
async fn a_new_revision_replaces_the_old_one() {
    let test = TestCache::new("new-revision").await;
    let key = project_key(PUBLIC_KEY);
    test.cache.put(key, &state(Some("r1")), None).await.unwrap();
    test.cache.put(key, &state(Some("r2")), None).await.unwrap();
    assert_eq!(
        test.cache.get_revision(key).await.unwrap().as_deref(),
        Some("r2")
    );
    let CacheLookup::Found(found) = test.cache.lookup(key, Some("r1")).await.unwrap() else {
        panic!("expected the new state");
    };
    assert_eq!(found.revision.as_deref(), Some("r2"));
    assert_eq!(
        test.cache.lookup(key, Some("r2")).await.unwrap(),
        CacheLookup::NotModified
    );
    test.cleanup().await;
}

#[tokio::test]
async fn a_state_without_revision_removes_the_revision_key() {
    let test = TestCache::new("no-revision").await;
    let key = project_key(PUBLIC_KEY);
    test.cache.put(key, &state(Some("r1")), None).await.unwrap();
    test.cache.put(key, &state(None), None).await.unwrap();
    assert_eq!(test.cache.get_revision(key).await.unwrap(), None);
    // A relay holding r1 must see the new state, and a missing revision never equals a
    // missing one.
    let CacheLookup::Found(found) = test.cache.lookup(key, Some("r1")).await.unwrap() else {
        panic!("expected the new state");
    };
    assert_eq!(found.revision, None);
    assert!(matches!(
        test.cache.lookup(key, None).await.unwrap(),
        CacheLookup::Found(_)
    ));
    test.cleanup().await;
}

#[tokio::test]
async fn disabled_state_is_found_and_flagged() {
    let test = TestCache::new("disabled").await;
    let key = project_key(PUBLIC_KEY);
    let mut disabled = state(Some("d1"));
    disabled.insert("disabled".into(), Value::Bool(true));
    test.cache.put(key, &disabled, None).await.unwrap();
    let CacheLookup::Found(found) = test.cache.lookup(key, None).await.unwrap() else {
        panic!("expected a state");
    };
    assert!(found.is_disabled());
    test.cleanup().await;
}

#[tokio::test]
async fn ttl_applies_to_both_keys() {
    let test = TestCache::new("ttl").await;
    let key = project_key(PUBLIC_KEY);
    let ttl = Duration::from_secs(60);
    test.cache
        .put(key, &state(Some("r1")), Some(ttl))
        .await
        .unwrap();
    let CacheExpiry::In(remaining) = test.cache.expiry(key).await.unwrap() else {
        panic!("expected an expiry");
    };
    assert!(remaining <= ttl && remaining > ttl - Duration::from_secs(5));
    let revision_ttl = test.raw_pttl(&test.revision_key(PUBLIC_KEY)).await;
    assert!(
        revision_ttl > 55_000 && revision_ttl <= 60_000,
        "{revision_ttl}"
    );

    // Writing again without a TTL makes both keys permanent.
    test.cache.put(key, &state(Some("r2")), None).await.unwrap();
    assert_eq!(test.cache.expiry(key).await.unwrap(), CacheExpiry::Never);
    assert_eq!(test.raw_pttl(&test.revision_key(PUBLIC_KEY)).await, -1);
    test.cleanup().await;
}

#[tokio::test]
async fn entries_vanish_when_the_ttl_ends() {
    let test = TestCache::new("expire").await;
    let key = project_key(PUBLIC_KEY);
    test.cache
        .put(key, &state(Some("r1")), Some(Duration::from_millis(150)))
        .await
        .unwrap();
    assert!(test.cache.get(key).await.unwrap().is_some());
    let started = Instant::now();
    while test.cache.get(key).await.unwrap().is_some() {
        assert!(started.elapsed() < POLL_LIMIT, "the entry never expired");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    assert_eq!(test.cache.get_revision(key).await.unwrap(), None);
    assert_eq!(
        test.cache.lookup(key, Some("r1")).await.unwrap(),
        CacheLookup::Pending
    );
    test.cleanup().await;
}

#[tokio::test]
async fn invalid_ttl_and_revision_are_refused_before_writing() {
    let test = TestCache::new("invalid-put").await;
    let key = project_key(PUBLIC_KEY);
    let error = test
        .cache
        .put(key, &state(Some("r1")), Some(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(error, ProjectConfigCacheError::TtlTooShort { .. }));
    let mut numeric_revision = state(None);
    numeric_revision.insert("rev".into(), json!(5));
    let error = test
        .cache
        .put(key, &numeric_revision, None)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ProjectConfigCacheError::InvalidRevisionField { found: "number" }
    ));
    assert_eq!(test.cache.get(key).await.unwrap(), None);
    test.cleanup().await;
}

#[tokio::test]
async fn delete_removes_value_and_revision() {
    let test = TestCache::new("delete").await;
    let key = project_key(PUBLIC_KEY);
    let other = project_key(OTHER_PUBLIC_KEY);
    test.cache.put(key, &state(Some("r1")), None).await.unwrap();
    test.cache
        .put(other, &state(Some("r9")), None)
        .await
        .unwrap();
    assert!(test.cache.delete(key).await.unwrap());
    assert_eq!(test.cache.get(key).await.unwrap(), None);
    assert_eq!(test.raw_get(&test.revision_key(PUBLIC_KEY)).await, None);
    // Other keys are untouched.
    assert!(test.cache.get(other).await.unwrap().is_some());
    test.cleanup().await;
}

#[tokio::test]
async fn undecodable_values_are_errors() {
    let test = TestCache::new("garbage").await;
    let key = project_key(PUBLIC_KEY);
    test.raw_set(&test.config_key(PUBLIC_KEY), b"\x28\xb5\x2f\xfd garbage")
        .await;
    let error = test.cache.get(key).await.unwrap_err();
    assert!(matches!(error, ProjectConfigCacheError::Parse { .. }));
    assert!(error.to_string().contains(&test.config_key(PUBLIC_KEY)));
    assert!(test.cache.lookup(key, None).await.is_err());

    test.raw_set(&test.revision_key(PUBLIC_KEY), b"\xff\xfe")
        .await;
    assert!(matches!(
        test.cache.get_revision(key).await.unwrap_err(),
        ProjectConfigCacheError::RevisionNotText { .. }
    ));
    test.cleanup().await;
}

#[tokio::test]
async fn many_concurrent_reads_share_one_connection() {
    const READERS: usize = 64;
    let test = TestCache::new("concurrent").await;
    let key = project_key(PUBLIC_KEY);
    test.cache.put(key, &state(Some("r1")), None).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..READERS {
        let cache = test.cache.clone();
        tasks.push(tokio::spawn(async move { cache.get(key).await }));
    }
    for task in tasks {
        let cached = task.await.unwrap().unwrap().unwrap();
        assert_eq!(cached.revision.as_deref(), Some("r1"));
    }
    test.cleanup().await;
}

/// A TCP port with nothing listening on it (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn unreachable_server_names_the_setting() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let server = RedisServer::from_url(&url, "processing.redis", options()).unwrap();
    let started = Instant::now();
    let error = RedisConnection::connect(&server).await.unwrap_err();
    // Refused at once, and reported as such rather than after retries as a timeout.
    assert!(
        started.elapsed() < options().create_timeout,
        "{:?}",
        started.elapsed()
    );
    let RedisConnectionError::Connect { source, .. } = &error else {
        panic!("expected a connect error, got {error:?}");
    };
    assert!(source.is_connection_refusal(), "{source:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("could not connect to redis at 127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("(configured by processing.redis)"),
        "{message}"
    );
}

#[tokio::test]
async fn pools_from_a_relay_config_connect() {
    let yaml = format!(
        "processing:\n  redis:\n    project_configs: {{server: '{REDIS_URL}/0', max_connections: 2}}\n    quotas: '{REDIS_URL}/1'\n"
    );
    let config = relay_config::Config::from_yaml_str(&yaml).unwrap();
    let pools = RedisPools::from_relay_config(&config).unwrap().unwrap();
    let mut project_configs = RedisConnection::connect(&pools.project_configs)
        .await
        .unwrap();
    let mut quotas = RedisConnection::connect(&pools.quotas).await.unwrap();
    project_configs.ping().await.unwrap();
    quotas.ping().await.unwrap();
    assert!(!project_configs.is_cluster());
    assert_eq!(redis::aio::ConnectionLike::get_db(&quotas), 1);
}

/// A connection to the test Redis with the given pool options (YAML flow-mapping entries).
async fn connect_with_options(options: &str) -> RedisConnection {
    let yaml = format!("processing:\n  redis: {{server: '{REDIS_URL}', {options}}}\n");
    let config = relay_config::Config::from_yaml_str(&yaml).unwrap();
    let pools = RedisPools::from_relay_config(&config).unwrap().unwrap();
    RedisConnection::connect(&pools.project_configs)
        .await
        .unwrap()
}

/// `BLPOP` on a list nobody pushes to: occupies its in-flight slot for `seconds`.
async fn blocking_pop(mut connection: RedisConnection, seconds: u64) -> redis::RedisResult<()> {
    redis::cmd("BLPOP")
        .arg(unique_prefix("blocked-list"))
        .arg(seconds)
        .query_async::<Option<Vec<String>>>(&mut connection)
        .await
        .map(drop)
}

#[tokio::test]
async fn response_timeout_bounds_a_blocked_command() {
    const BLOCK_SECS: u64 = 10;
    let connection = connect_with_options("response_timeout: 1").await;
    let started = Instant::now();
    let error = blocking_pop(connection, BLOCK_SECS).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(BLOCK_SECS / 2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn wait_timeout_bounds_waiting_for_an_in_flight_slot() {
    // One slot, three blocked commands. Without a wait deadline they would end one after the
    // other at 3, 6 and 9 s (each by its response timeout once it got the slot); with
    // `wait_timeout: 1` no command lives longer than 1 + 3 s.
    const BLOCK_SECS: u64 = 30;
    const COMMANDS: usize = 3;
    const SERIALIZED_END: Duration = Duration::from_secs(7);
    let connection =
        connect_with_options("max_connections: 1, response_timeout: 3, wait_timeout: 1").await;
    let started = Instant::now();
    let commands: Vec<_> = (0..COMMANDS)
        .map(|_| tokio::spawn(blocking_pop(connection.clone(), BLOCK_SECS)))
        .collect();
    for command in commands {
        assert!(command.await.unwrap().is_err());
    }
    assert!(
        started.elapsed() < SERIALIZED_END,
        "{:?}",
        started.elapsed()
    );
}

/// A single-node Redis Cluster owning every slot, stopped when dropped.
struct ClusterNode {
    process: Child,
    port: u16,
    _directory: tempfile::TempDir,
}

impl ClusterNode {
    async fn start() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let port = free_port();
        let bus_port = free_port();
        let process = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-port", &bus_port.to_string()])
            .args(["--cluster-announce-ip", "127.0.0.1"])
            .arg("--cluster-config-file")
            .arg(directory.path().join("nodes.conf"))
            .arg("--dir")
            .arg(directory.path())
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/services.sh installs it)");
        let node = Self {
            process,
            port,
            _directory: directory,
        };
        let mut admin = node.admin_connection().await;
        redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(0)
            .arg(LAST_CLUSTER_SLOT)
            .query_async::<()>(&mut admin)
            .await
            .unwrap();
        let started = Instant::now();
        loop {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut admin)
                .await
                .unwrap();
            if info.contains("cluster_state:ok") {
                break;
            }
            assert!(started.elapsed() < POLL_LIMIT, "cluster never became ok");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        node
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain (non-cluster) connection once the server accepts connections.
    async fn admin_connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).unwrap();
        let started = Instant::now();
        loop {
            if let Ok(connection) = client.get_multiplexed_async_connection().await {
                return connection;
            }
            assert!(started.elapsed() < POLL_LIMIT, "redis-server did not start");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test]
async fn cluster_round_trip_across_hash_slots() {
    let node = ClusterNode::start().await;
    let yaml = format!(
        "processing:\n  redis: {{cluster_nodes: ['{}'], max_connections: 4}}\n",
        node.url()
    );
    let config = relay_config::Config::from_yaml_str(&yaml).unwrap();
    let pools = RedisPools::from_relay_config(&config).unwrap().unwrap();
    let connection = RedisConnection::connect(&pools.project_configs)
        .await
        .unwrap();
    assert!(connection.is_cluster());
    let test = TestCache::with_connection("cluster", connection).await;
    let key = project_key(PUBLIC_KEY);

    // The config key and the `.rev` key hash to different slots, so this only works when
    // the writer does not put them into one transaction.
    test.cache
        .put(key, &state(Some("c1")), Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let cached = test.cache.get(key).await.unwrap().unwrap();
    assert_eq!(cached.revision.as_deref(), Some("c1"));
    assert_eq!(
        test.cache.get_revision(key).await.unwrap().as_deref(),
        Some("c1")
    );
    assert_eq!(
        test.cache.lookup(key, Some("c1")).await.unwrap(),
        CacheLookup::NotModified
    );
    assert!(matches!(
        test.cache.expiry(key).await.unwrap(),
        CacheExpiry::In(_)
    ));
    assert!(test.cache.delete(key).await.unwrap());
    assert_eq!(
        test.cache.lookup(key, None).await.unwrap(),
        CacheLookup::Pending
    );
    test.cleanup().await;
}

#[tokio::test]
async fn cluster_config_against_a_standalone_server_fails_to_connect() {
    let config = relay_config::Config::from_yaml_str(&format!(
        "processing:\n  redis: {{cluster_nodes: ['{REDIS_URL}']}}\n"
    ))
    .unwrap();
    let pools = RedisPools::from_relay_config(&config).unwrap().unwrap();
    let error = RedisConnection::connect(&pools.project_configs)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not connect to redis at cluster 127.0.0.1:6379 (configured by processing.redis)"
    );
}

/// Every interesting combination of stored data and held revision, for comparing the batched
/// lookup with the one-key algorithm. Returns the requests.
async fn fill_lookup_cases(test: &TestCache) -> Vec<(ProjectKey, Option<String>)> {
    let keys: Vec<String> = (0..8).map(|index| format!("{index:032x}")).collect();
    // 0: unchanged by `.rev`; 1: changed; 2: nothing held; 3: missing; 4: missing with a held
    // revision; 5: garbage value; 6: `.rev` not UTF-8; 7: disabled.
    for (index, revision) in [(0, "r1"), (1, "r2"), (2, "r3")] {
        test.cache
            .put(project_key(&keys[index]), &state(Some(revision)), None)
            .await
            .unwrap();
    }
    test.raw_set(&test.config_key(&keys[5]), b"not json").await;
    test.cache
        .put(project_key(&keys[6]), &state(Some("r6")), None)
        .await
        .unwrap();
    test.raw_set(&test.revision_key(&keys[6]), b"\xff\xfe")
        .await;
    test.raw_set(&test.config_key(&keys[7]), br#"{"disabled":true}"#)
        .await;
    let held = [
        Some("r1"),
        Some("r1"),
        None,
        None,
        Some("x"),
        None,
        Some("r6"),
        None,
    ];
    keys.iter()
        .zip(held)
        .map(|(key, held)| (project_key(key), held.map(str::to_owned)))
        .collect()
}

fn describe(result: &Result<CacheLookup, ProjectConfigCacheError>) -> String {
    match result {
        Ok(CacheLookup::Found(cached)) => format!(
            "found rev={:?} disabled={}",
            cached.revision,
            cached.is_disabled()
        ),
        Ok(other) => format!("{other:?}"),
        Err(error) => format!("error {error}"),
    }
}

async fn assert_batch_equals_single_lookups(test: &TestCache) {
    let requests = fill_lookup_cases(test).await;
    let batched = test.cache.lookup_many(&requests).await;
    assert_eq!(batched.len(), requests.len());
    let mut single = Vec::new();
    for (key, held) in &requests {
        single.push(describe(&test.cache.lookup(*key, held.as_deref()).await));
    }
    let batched: Vec<String> = batched.iter().map(describe).collect();
    assert_eq!(batched, single);
    assert_eq!(batched[0], "NotModified");
    assert_eq!(batched[1], "found rev=Some(\"r2\") disabled=false");
    assert_eq!(batched[2], "found rev=Some(\"r3\") disabled=false");
    assert_eq!(batched[3], "Pending");
    assert_eq!(batched[4], "Pending");
    assert!(batched[5].starts_with("error "), "{}", batched[5]);
    assert!(batched[6].starts_with("error "), "{}", batched[6]);
    assert_eq!(batched[7], "found rev=None disabled=true");
    assert!(test.cache.lookup_many(&[]).await.is_empty());
}

#[tokio::test]
async fn batched_lookup_matches_the_single_key_algorithm() {
    let test = TestCache::new("lookup-many").await;
    assert_batch_equals_single_lookups(&test).await;
    test.cleanup().await;
}

#[tokio::test]
async fn cluster_batched_lookup_matches_the_single_key_algorithm() {
    let node = ClusterNode::start().await;
    let config = relay_config::Config::from_yaml_str(&format!(
        "processing:\n  redis: {{cluster_nodes: ['{}'], max_connections: 4}}\n",
        node.url()
    ))
    .unwrap();
    let pools = RedisPools::from_relay_config(&config).unwrap().unwrap();
    let connection = RedisConnection::connect(&pools.project_configs)
        .await
        .unwrap();
    let test = TestCache::with_connection("cluster-lookup-many", connection).await;
    assert_batch_equals_single_lookups(&test).await;
    test.cleanup().await;
}

/// A throwaway standalone `redis-server` on its own port, stopped when dropped.
struct StandaloneNode {
    process: Child,
    port: u16,
    _directory: tempfile::TempDir,
}

impl StandaloneNode {
    fn start() -> Self {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let process = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(directory.path())
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/services.sh installs it)");
        Self {
            process,
            port,
            _directory: directory,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn connect(&self) -> RedisConnection {
        let started = Instant::now();
        loop {
            let server = RedisServer::from_url(&self.url(), "test", options()).unwrap();
            if let Ok(connection) = RedisConnection::connect(&server).await {
                return connection;
            }
            assert!(started.elapsed() < POLL_LIMIT, "redis-server did not start");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn stop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for StandaloneNode {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn lookups_against_a_vanished_server_are_connection_errors() {
    let mut node = StandaloneNode::start();
    let mut connection = node.connect().await;
    connection.ping().await.unwrap();
    let cache = ProjectConfigCache::new(connection.clone(), unique_prefix("vanished"));
    let key = project_key(PUBLIC_KEY);
    cache.put(key, &state(Some("r1")), None).await.unwrap();
    node.stop();

    let started = Instant::now();
    let results = cache
        .lookup_many(&[(key, Some("r1".to_owned())), (key, None)])
        .await;
    assert_eq!(results.len(), 2);
    for result in results {
        let error = result.unwrap_err();
        assert!(error.is_connection_error(), "{error:?}");
    }
    assert!(connection.ping().await.is_err());
    // A refused connection fails fast; nothing waits for the 30 s response timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
    // A decoding error is not a connection error.
    let parse_error = relay_redis::decode_value("k", b"nope").unwrap_err();
    assert!(!parse_error.is_connection_error());

    // The server comes back on the same port: the same connection works again.
    let _restarted = StandaloneNode::start_on(node.port);
    let started = Instant::now();
    while connection.ping().await.is_err() {
        assert!(started.elapsed() < POLL_LIMIT, "never reconnected");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    assert_eq!(
        cache.lookup_many(&[(key, None)]).await[0].as_ref().unwrap(),
        &CacheLookup::Pending,
        "a fresh server holds nothing"
    );
}
