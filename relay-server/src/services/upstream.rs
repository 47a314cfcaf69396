//! The upstream service: every request relay sends to its upstream goes through here.
//!
//! It owns the registration state machine (relay-protocol.md §3), a two-priority request queue
//! with bounded concurrency (§4.2), the retry queue for network failures and the outage
//! detector (§4.3). Callers hand in [`UpstreamJob`]s; the job decides how its request is built
//! and what happens with the answer, so envelopes, queries and pass-through requests share one
//! queue and one set of rules.
//!
//! Invariants:
//! - Nothing is dequeued while relay is not registered (managed mode) or during an outage.
//! - At most `limits.max_concurrent_requests` requests are in flight.
//! - A retryable job that meets a network error is kept (with its memory permit) in the retry
//!   queue, never dropped; a non-retryable one is answered with the error.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use relay_auth::{RegisterChallenge, RegisterRequest, RegisterResponse, Registration};
use relay_config::{Config, RelayMode, UpstreamDescriptor};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{oneshot, Notify, Semaphore};

use crate::services::shutdown::ShutdownHandle;
use crate::utils::backoff::Backoff;
use crate::RELAY_VERSION;

/// Header carrying the id of the relay that sends a request.
pub const RELAY_ID_HEADER: &str = "x-sentry-relay-id";
/// Header carrying the Ed25519 signature of a request.
pub const RELAY_SIGNATURE_HEADER: &str = "x-sentry-relay-signature";

/// Which queue a request waits in; high is always served first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Project configs, the global config, relay public keys.
    High,
    /// Envelopes, metrics, forwarded requests.
    Low,
}

/// What the request is signed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignMode {
    /// No relay id, no signature (pass-through forwarding).
    Unsigned,
    /// Relay id and a signature over the empty payload, when credentials exist (envelopes).
    EmptyIfCredentials,
    /// Relay id and a signature over the body; fails without credentials (JSON queries).
    Body,
}

/// A fully built request ready to be sent upstream.
#[derive(Debug)]
pub struct UpstreamRequest {
    pub method: reqwest::Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub sign: SignMode,
    /// An advertised upstream of the project overrides the configured one.
    pub target: Option<UpstreamDescriptor>,
}

/// The upstream's answer, fully read.
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl UpstreamResponse {
    /// Parses the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, UpstreamRequestError> {
        serde_json::from_slice(&self.body).map_err(UpstreamRequestError::InvalidJson)
    }

    /// Turns non-2xx statuses into [`UpstreamRequestError::ResponseError`].
    pub fn into_success(self) -> Result<UpstreamResponse, UpstreamRequestError> {
        if self.status.is_success() {
            return Ok(self);
        }
        Err(UpstreamRequestError::ResponseError {
            status: self.status,
            detail: ApiErrorBody::parse(&self.body),
        })
    }
}

/// The JSON error body upstreams answer with (http-api.md §6).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub causes: Vec<String>,
    #[serde(default)]
    pub relay: Option<String>,
}

impl ApiErrorBody {
    fn parse(body: &[u8]) -> ApiErrorBody {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.detail {
            Some(detail) => f.write_str(detail)?,
            None => f.write_str("no error details")?,
        }
        for cause in &self.causes {
            write!(f, "\n  caused by: {cause}")?;
        }
        Ok(())
    }
}

/// Why an upstream request failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamRequestError {
    #[error("could not send request to upstream")]
    Network(#[source] reqwest::Error),
    #[error("upstream request returned error {status}: {detail}")]
    ResponseError {
        status: reqwest::StatusCode,
        detail: ApiErrorBody,
    },
    #[error("relay has no credentials to sign the request with")]
    NoCredentials,
    #[error("relay was permanently denied by the upstream")]
    Denied,
    #[error("upstream answer is not valid JSON")]
    InvalidJson(#[source] serde_json::Error),
    #[error("no response from upstream within the timeout")]
    Timeout,
    #[error("relay is shutting down")]
    ShuttingDown,
    #[error("could not build the upstream request: {0}")]
    BuildFailed(String),
}

impl UpstreamRequestError {
    /// Network errors are retried and count towards an outage (relay-protocol.md §4.3).
    pub fn is_network_error(&self) -> bool {
        match self {
            UpstreamRequestError::Network(_) => true,
            UpstreamRequestError::ResponseError { status, .. } => is_unavailable_status(*status),
            _ => false,
        }
    }

    /// Whether the upstream received the request (any non-network HTTP answer).
    pub fn is_received(&self) -> bool {
        matches!(self, UpstreamRequestError::ResponseError { .. }) && !self.is_network_error()
    }
}

/// A unit of work for the upstream queue.
///
/// `build` may be called more than once (once per attempt). Exactly one of `complete` or
/// the drop of the job happens; a job dropped without `complete` must account for its
/// contents itself (the envelope job does so through its managed envelope).
pub trait UpstreamJob: Send + 'static {
    /// Which queue the job waits in.
    fn priority(&self) -> Priority;
    /// Whether a network failure puts the job into the retry queue instead of failing it.
    fn retryable(&self) -> bool;
    /// Builds the request for one attempt.
    fn build(&mut self) -> Result<UpstreamRequest, UpstreamRequestError>;
    /// Receives the final result.
    fn complete(self: Box<Self>, result: Result<UpstreamResponse, UpstreamRequestError>);
    /// When the job was queued, for the forwarder's overall timeout.
    fn deadline(&self) -> Option<Instant> {
        None
    }
}

/// Registration state (relay-protocol.md §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AuthState {
    Unknown = 0,
    Registered = 1,
    Renewing = 2,
    Denied = 3,
}

impl AuthState {
    fn from_u8(value: u8) -> AuthState {
        match value {
            1 => AuthState::Registered,
            2 => AuthState::Renewing,
            3 => AuthState::Denied,
            _ => AuthState::Unknown,
        }
    }

    /// Whether requests may be dequeued.
    pub fn is_authenticated(self) -> bool {
        matches!(self, AuthState::Registered | AuthState::Renewing)
    }
}

struct RetryEntry {
    due: Instant,
    job: Box<dyn UpstreamJob>,
}

#[derive(Default)]
struct Queues {
    high: VecDeque<Box<dyn UpstreamJob>>,
    low: VecDeque<Box<dyn UpstreamJob>>,
    high_retry: VecDeque<RetryEntry>,
    low_retry: VecDeque<RetryEntry>,
}

impl Queues {
    /// Dequeue order of relay-protocol.md §4.2; low-priority jobs only with `include_low`.
    fn pop_next(&mut self, now: Instant, include_low: bool) -> Option<Box<dyn UpstreamJob>> {
        if self
            .high_retry
            .front()
            .is_some_and(|entry| entry.due <= now)
        {
            return self.high_retry.pop_front().map(|entry| entry.job);
        }
        if let Some(job) = self.high.pop_front() {
            return Some(job);
        }
        if !include_low {
            return None;
        }
        if self.low_retry.front().is_some_and(|entry| entry.due <= now) {
            return self.low_retry.pop_front().map(|entry| entry.job);
        }
        self.low.pop_front()
    }

    /// When the next retry becomes due; paused low-priority retries do not count, so a
    /// paused dispatcher does not wake for them.
    fn next_retry_due(&self, include_low: bool) -> Option<Instant> {
        let high = self.high_retry.front().map(|entry| entry.due);
        let low = self
            .low_retry
            .front()
            .filter(|_| include_low)
            .map(|entry| entry.due);
        match (high, low) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn make_retries_due(&mut self, now: Instant) {
        for entry in self.high_retry.iter_mut().chain(self.low_retry.iter_mut()) {
            entry.due = entry.due.min(now);
        }
    }

    fn len(&self) -> usize {
        self.high.len() + self.low.len() + self.high_retry.len() + self.low_retry.len()
    }

    fn drain_all(&mut self) -> Vec<Box<dyn UpstreamJob>> {
        let mut jobs: Vec<Box<dyn UpstreamJob>> = Vec::with_capacity(self.len());
        jobs.extend(self.high_retry.drain(..).map(|entry| entry.job));
        jobs.extend(self.high.drain(..));
        jobs.extend(self.low_retry.drain(..).map(|entry| entry.job));
        jobs.extend(self.low.drain(..));
        jobs
    }
}

/// Tracks continuous network failures to decide when an outage starts (§4.3).
struct OutageTracker {
    first_failure: Option<Instant>,
}

struct UpstreamInner {
    config: Arc<Config>,
    client: reqwest::Client,
    queues: Mutex<Queues>,
    wake_dispatcher: Notify,
    in_flight: Arc<Semaphore>,
    /// Requests taken from the queues and not finished yet. Not derived from `in_flight`: the
    /// dispatcher holds a permit while it waits for the next job, so an idle relay would count
    /// one request in flight forever (and graceful shutdown would wait its full timeout).
    executing: AtomicUsize,
    auth_state: AtomicU8,
    auth_changed: Notify,
    outage: AtomicBool,
    outage_changed: Notify,
    outage_tracker: Mutex<OutageTracker>,
    retry_backoff: Mutex<Backoff>,
    /// The last signature over the empty payload and when it was made.
    empty_signature: Mutex<Option<(Instant, HeaderValue)>>,
    /// Woken whenever a low-priority job leaves the queue (admission control).
    low_dequeued: Notify,
    /// Whether low-priority jobs (envelopes) are dequeued; toggled by `SIGUSR1`.
    low_dequeue_enabled: AtomicBool,
}

/// Handle to the upstream service; cheap to clone.
#[derive(Clone)]
pub struct UpstreamHandle {
    inner: Arc<UpstreamInner>,
}

impl UpstreamHandle {
    /// Creates the service and starts its dispatcher, registration and outage tasks.
    pub fn start(config: Arc<Config>, shutdown: ShutdownHandle) -> anyhow::Result<UpstreamHandle> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.http_connection_timeout())
            .pool_max_idle_per_host(config.max_concurrent_requests())
            .pool_idle_timeout(Duration::from_secs(POOL_IDLE_TIMEOUT_SECS))
            .tcp_nodelay(true)
            .no_proxy()
            .user_agent(format!("sentry-relay/{RELAY_VERSION}"))
            .build()?;

        let initial_state = if config.mode() == RelayMode::Managed {
            AuthState::Unknown
        } else {
            AuthState::Registered
        };
        let inner = Arc::new(UpstreamInner {
            in_flight: Arc::new(Semaphore::new(config.max_concurrent_requests().max(1))),
            executing: AtomicUsize::new(0),
            retry_backoff: Mutex::new(Backoff::new(config.http_max_retry_interval())),
            config,
            client,
            queues: Mutex::new(Queues::default()),
            wake_dispatcher: Notify::new(),
            auth_state: AtomicU8::new(initial_state as u8),
            auth_changed: Notify::new(),
            outage: AtomicBool::new(false),
            outage_changed: Notify::new(),
            outage_tracker: Mutex::new(OutageTracker {
                first_failure: None,
            }),
            empty_signature: Mutex::new(None),
            low_dequeued: Notify::new(),
            low_dequeue_enabled: AtomicBool::new(true),
        });
        let handle = UpstreamHandle { inner };

        tokio::spawn(handle.clone().run_dispatcher(shutdown.clone()));
        tokio::spawn(handle.clone().run_outage_monitor(shutdown.clone()));
        if initial_state == AuthState::Unknown {
            tokio::spawn(handle.clone().run_authentication(shutdown));
        }
        Ok(handle)
    }

    /// The current registration state.
    pub fn auth_state(&self) -> AuthState {
        AuthState::from_u8(self.inner.auth_state.load(Ordering::Acquire))
    }

    /// Whether relay is in network-outage mode.
    pub fn is_in_outage(&self) -> bool {
        self.inner.outage.load(Ordering::Acquire)
    }

    /// Number of requests waiting (including retries).
    pub fn queued_len(&self) -> usize {
        self.inner.queues.lock().len()
    }

    /// Number of requests currently in flight.
    pub fn in_flight(&self) -> usize {
        self.inner.executing.load(Ordering::Acquire)
    }

    /// Flow control for ingestion: while the upstream is reachable and keeps up (no outage,
    /// no failed requests waiting for a retry, registered), waits until fewer than
    /// `max_queued` low-priority jobs wait to be sent. Returns false when `timeout` passed
    /// first. When the upstream is not reachable this returns at once: the memory budget of
    /// the buffer decides then.
    pub async fn wait_for_admission(&self, max_queued: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let dequeued = self.inner.low_dequeued.notified();
            let has_room = {
                let queues = self.inner.queues.lock();
                queues.low.len() < max_queued || !queues.low_retry.is_empty()
            };
            let draining = self.inner.low_dequeue_enabled.load(Ordering::Acquire);
            if has_room || !draining || self.is_in_outage() || !self.auth_state().is_authenticated()
            {
                return true;
            }
            if tokio::time::timeout_at(deadline, dequeued).await.is_err() {
                return false;
            }
        }
    }

    /// Pauses or resumes sending envelopes (`SIGUSR1`, config.md §5); queries keep flowing
    /// and envelopes keep being accepted into the buffer. Returns whether dequeuing is on.
    pub fn toggle_envelope_dequeue(&self) -> bool {
        let enabled = !self
            .inner
            .low_dequeue_enabled
            .fetch_xor(true, Ordering::AcqRel);
        self.inner.wake_dispatcher.notify_one();
        self.inner.low_dequeued.notify_waiters();
        enabled
    }

    /// Queues a job. A denied relay fails it immediately (§3.5).
    pub fn enqueue(&self, job: Box<dyn UpstreamJob>) {
        if self.auth_state() == AuthState::Denied {
            job.complete(Err(UpstreamRequestError::Denied));
            return;
        }
        {
            let mut queues = self.inner.queues.lock();
            match job.priority() {
                Priority::High => queues.high.push_back(job),
                Priority::Low => queues.low.push_back(job),
            }
        }
        self.inner.wake_dispatcher.notify_one();
    }

    /// Sends a signed JSON query through the high-priority queue and parses the answer.
    pub async fn send_query<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Resp, UpstreamRequestError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let body = serde_json::to_vec(request)
            .map_err(|error| UpstreamRequestError::BuildFailed(error.to_string()))?;
        let (sender, receiver) = oneshot::channel();
        self.enqueue(Box::new(QueryJob {
            path: path.to_owned(),
            body: Bytes::from(body),
            respond: Some(sender),
        }));
        let response = receiver
            .await
            .map_err(|_| UpstreamRequestError::ShuttingDown)??;
        response.into_success()?.json()
    }

    /// Removes every queued job (used when shutdown gives up): each is completed with
    /// [`UpstreamRequestError::ShuttingDown`] so it can account for its contents.
    pub fn abandon_queued(&self) {
        let jobs = self.inner.queues.lock().drain_all();
        for job in jobs {
            job.complete(Err(UpstreamRequestError::ShuttingDown));
        }
    }

    async fn run_dispatcher(self, shutdown: ShutdownHandle) {
        loop {
            self.wait_until_sendable().await;
            let permit = match self.inner.in_flight.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => return,
            };
            let job = loop {
                let now = Instant::now();
                let (job, next_due) = {
                    let mut queues = self.inner.queues.lock();
                    let include_low = self.inner.low_dequeue_enabled.load(Ordering::Acquire);
                    let job = queues.pop_next(now, include_low);
                    if job.is_some() {
                        // Counted before the queue lock is released, so the job is always
                        // either queued or executing for observers such as the shutdown drain.
                        self.inner.executing.fetch_add(1, Ordering::AcqRel);
                    }
                    (job, queues.next_retry_due(include_low))
                };
                if let Some(job) = job {
                    if job.priority() == Priority::Low {
                        self.inner.low_dequeued.notify_waiters();
                    }
                    break job;
                }
                if shutdown.is_finished() {
                    return;
                }
                match next_due {
                    Some(due) => {
                        let _ = tokio::time::timeout(
                            due.saturating_duration_since(now),
                            self.inner.wake_dispatcher.notified(),
                        )
                        .await;
                    }
                    None => self.inner.wake_dispatcher.notified().await,
                }
            };
            let handle = self.clone();
            tokio::spawn(async move {
                handle.execute(job).await;
                handle.inner.executing.fetch_sub(1, Ordering::AcqRel);
                drop(permit);
            });
        }
    }

    async fn wait_until_sendable(&self) {
        loop {
            let auth_changed = self.inner.auth_changed.notified();
            let outage_changed = self.inner.outage_changed.notified();
            if self.auth_state().is_authenticated() && !self.is_in_outage() {
                return;
            }
            tokio::select! {
                _ = auth_changed => {}
                _ = outage_changed => {}
            }
        }
    }

    async fn execute(&self, mut job: Box<dyn UpstreamJob>) {
        if job
            .deadline()
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            job.complete(Err(UpstreamRequestError::Timeout));
            return;
        }
        let request = match job.build() {
            Ok(request) => request,
            Err(error) => {
                job.complete(Err(error));
                return;
            }
        };
        let result = self.send_now(request).await;
        let network_error = match &result {
            Ok(response) => is_unavailable_status(response.status),
            Err(error) => error.is_network_error(),
        };
        if network_error {
            self.record_network_failure();
            if job.retryable() {
                self.schedule_retry(job);
                return;
            }
        } else {
            self.record_received();
        }
        job.complete(result);
    }

    fn schedule_retry(&self, job: Box<dyn UpstreamJob>) {
        let delay = self
            .inner
            .config
            .http_retry_delay()
            .max(self.inner.retry_backoff.lock().next_backoff_with_jitter());
        let entry = RetryEntry {
            due: Instant::now() + delay,
            job,
        };
        {
            let mut queues = self.inner.queues.lock();
            match entry.job.priority() {
                Priority::High => queues.high_retry.push_back(entry),
                Priority::Low => queues.low_retry.push_back(entry),
            }
        }
        self.inner.wake_dispatcher.notify_one();
    }

    fn record_network_failure(&self) {
        let grace = self.inner.config.http_outage_grace_period();
        let mut tracker = self.inner.outage_tracker.lock();
        let first_failure = *tracker.first_failure.get_or_insert_with(Instant::now);
        if first_failure.elapsed() >= grace && !self.inner.outage.swap(true, Ordering::AcqRel) {
            tracing::warn!("upstream is unreachable, entering network outage mode");
            self.inner.outage_changed.notify_waiters();
        }
    }

    fn record_received(&self) {
        self.inner.outage_tracker.lock().first_failure = None;
        self.inner.retry_backoff.lock().reset();
        if self.inner.outage.swap(false, Ordering::AcqRel) {
            tracing::info!("upstream is reachable again, leaving network outage mode");
            self.inner.outage_changed.notify_waiters();
        }
        let had_retries = {
            let mut queues = self.inner.queues.lock();
            let any = !queues.high_retry.is_empty() || !queues.low_retry.is_empty();
            queues.make_retries_due(Instant::now());
            any
        };
        if had_retries {
            self.inner.wake_dispatcher.notify_one();
        }
    }

    /// Sends one request right now, bypassing the queue.
    async fn send_now(
        &self,
        request: UpstreamRequest,
    ) -> Result<UpstreamResponse, UpstreamRequestError> {
        let config = &self.inner.config;
        let upstream = request
            .target
            .as_ref()
            .unwrap_or_else(|| config.upstream_descriptor());
        let url = upstream.url_for(&request.path);
        let mut builder = self
            .inner
            .client
            .request(request.method, url)
            .timeout(config.http_timeout())
            .headers(request.headers);
        if let Some(host) = config.http_host_header() {
            builder = builder.header(reqwest::header::HOST, host);
        }
        builder = match request.sign {
            SignMode::Unsigned => builder,
            SignMode::EmptyIfCredentials => match self.empty_payload_signature() {
                Some((relay_id, signature)) => builder
                    .header(RELAY_ID_HEADER, relay_id)
                    .header(RELAY_SIGNATURE_HEADER, signature),
                None => builder,
            },
            SignMode::Body => match config.credentials() {
                Some(credentials) => builder
                    .header(RELAY_ID_HEADER, credentials.id.to_string())
                    .header(
                        RELAY_SIGNATURE_HEADER,
                        credentials.secret_key.sign(&request.body).to_string(),
                    ),
                None => return Err(UpstreamRequestError::NoCredentials),
            },
        };
        let response = builder
            .body(request.body)
            .send()
            .await
            .map_err(UpstreamRequestError::Network)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(UpstreamRequestError::Network)?;
        Ok(UpstreamResponse {
            status,
            headers,
            body,
        })
    }

    /// The relay id and a signature over the empty payload, for envelopes.
    ///
    /// That signature only proves identity and freshness, and verifiers accept it for
    /// `auth.signature_max_age`; one signature is therefore reused for
    /// [`EMPTY_SIGNATURE_REUSE`] instead of spending an Ed25519 signing per envelope.
    fn empty_payload_signature(&self) -> Option<(HeaderValue, HeaderValue)> {
        let credentials = self.inner.config.credentials()?;
        let relay_id = HeaderValue::from_str(&credentials.id.to_string()).ok()?;
        let mut cached = self.inner.empty_signature.lock();
        if let Some((signed_at, signature)) = cached.as_ref() {
            if signed_at.elapsed() < EMPTY_SIGNATURE_REUSE {
                return Some((relay_id, signature.clone()));
            }
        }
        let signature =
            HeaderValue::from_str(&credentials.secret_key.sign(&[]).to_string()).ok()?;
        *cached = Some((Instant::now(), signature.clone()));
        Some((relay_id, signature))
    }

    /// Registration loop (relay-protocol.md §3).
    async fn run_authentication(self, shutdown: ShutdownHandle) {
        let config = self.inner.config.clone();
        let mut backoff = Backoff::new(config.http_max_retry_interval());
        let mut consecutive_failures = 0u32;
        loop {
            if shutdown.is_finished() {
                return;
            }
            let result = self.register_once().await;
            match result {
                Ok(()) => {
                    consecutive_failures = 0;
                    backoff.reset();
                    self.set_auth_state(AuthState::Registered);
                    let interval = match config.http_auth_interval() {
                        Some(interval) if !config.processing_enabled() => interval,
                        _ => return,
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(interval) => {}
                        _ = shutdown.finished() => return,
                    }
                    self.set_auth_state(AuthState::Renewing);
                    continue;
                }
                Err(UpstreamRequestError::ResponseError { status, detail })
                    if status == reqwest::StatusCode::FORBIDDEN
                        && detail.relay.as_deref() == Some("stop") =>
                {
                    tracing::error!("relay registration was permanently denied by the upstream");
                    self.set_auth_state(AuthState::Denied);
                    for job in self.inner.queues.lock().drain_all() {
                        job.complete(Err(UpstreamRequestError::Denied));
                    }
                    return;
                }
                Err(error) => {
                    consecutive_failures += 1;
                    if !error.is_network_error() {
                        self.set_auth_state(AuthState::Unknown);
                    }
                    if consecutive_failures >= AUTH_FAILURES_BEFORE_LOGGING {
                        tracing::error!(
                            error = %error,
                            "authentication encountered error"
                        );
                    } else {
                        tracing::debug!(error = %error, "authentication attempt failed");
                    }
                }
            }
            let delay = backoff.next_backoff();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.finished() => return,
            }
        }
    }

    async fn register_once(&self) -> Result<(), UpstreamRequestError> {
        let credentials = self
            .inner
            .config
            .credentials()
            .ok_or(UpstreamRequestError::NoCredentials)?;
        let challenge_request = RegisterRequest {
            relay_id: credentials.id,
            public_key: credentials.public_key,
            version: relay_version(),
        };
        let challenge: RegisterChallenge = self
            .send_direct_json("/api/0/relays/register/challenge/", &challenge_request)
            .await?;
        let response = RegisterResponse {
            relay_id: credentials.id,
            token: challenge.token,
            version: relay_version(),
        };
        let _registration: Registration = self
            .send_direct_json("/api/0/relays/register/response/", &response)
            .await?;
        tracing::info!(relay_id = %credentials.id, "relay successfully registered with upstream");
        Ok(())
    }

    async fn send_direct_json<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Resp, UpstreamRequestError> {
        let body = serde_json::to_vec(request)
            .map_err(|error| UpstreamRequestError::BuildFailed(error.to_string()))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let response = self
            .send_now(UpstreamRequest {
                method: reqwest::Method::POST,
                path: path.to_owned(),
                headers,
                body: Bytes::from(body),
                sign: SignMode::Body,
                target: None,
            })
            .await?;
        response.into_success()?.json()
    }

    fn set_auth_state(&self, state: AuthState) {
        self.inner.auth_state.store(state as u8, Ordering::Release);
        self.inner.auth_changed.notify_waiters();
    }

    /// While in an outage, polls `/api/0/relays/live/` until the upstream answers (§4.3).
    async fn run_outage_monitor(self, shutdown: ShutdownHandle) {
        let mut backoff = Backoff::new(self.inner.config.http_max_retry_interval());
        loop {
            let outage_changed = self.inner.outage_changed.notified();
            if !self.is_in_outage() {
                backoff.reset();
                tokio::select! {
                    _ = outage_changed => continue,
                    _ = shutdown.finished() => return,
                }
            }
            let delay = backoff.next_backoff();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.finished() => return,
            }
            let mut headers = HeaderMap::new();
            if let Some(credentials) = self.inner.config.credentials() {
                if let Ok(value) = HeaderValue::from_str(&credentials.id.to_string()) {
                    headers.insert(HeaderName::from_static(RELAY_ID_HEADER), value);
                }
            }
            let probe = self
                .send_now(UpstreamRequest {
                    method: reqwest::Method::GET,
                    path: "/api/0/relays/live/".to_owned(),
                    headers,
                    body: Bytes::new(),
                    sign: SignMode::Unsigned,
                    target: None,
                })
                .await;
            let still_down = match &probe {
                Ok(response) => is_unavailable_status(response.status),
                Err(error) => error.is_network_error(),
            };
            if still_down {
                tracing::debug!("upstream still unreachable");
            } else {
                self.record_received();
            }
        }
    }
}

/// The protocol version announced at registration (relay-protocol.md §3.1).
fn relay_version() -> relay_auth::RelayVersion {
    RELAY_VERSION
        .parse()
        .unwrap_or_else(|_| relay_auth::RelayVersion::current())
}

/// How long one signature over the empty payload is reused (far below any sensible
/// `auth.signature_max_age`).
const EMPTY_SIGNATURE_REUSE: Duration = Duration::from_secs(1);

/// How long an idle pooled connection to the upstream is kept.
const POOL_IDLE_TIMEOUT_SECS: u64 = 90;

/// The first failed registration attempts are silent (relay-protocol.md §3.5).
const AUTH_FAILURES_BEFORE_LOGGING: u32 = 3;

fn is_unavailable_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// A signed JSON query (project configs, public keys, global config).
struct QueryJob {
    path: String,
    body: Bytes,
    respond: Option<oneshot::Sender<Result<UpstreamResponse, UpstreamRequestError>>>,
}

impl UpstreamJob for QueryJob {
    fn priority(&self) -> Priority {
        Priority::High
    }

    fn retryable(&self) -> bool {
        false
    }

    fn build(&mut self) -> Result<UpstreamRequest, UpstreamRequestError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(UpstreamRequest {
            method: reqwest::Method::POST,
            path: self.path.clone(),
            headers,
            body: self.body.clone(),
            sign: SignMode::Body,
            target: None,
        })
    }

    fn complete(mut self: Box<Self>, result: Result<UpstreamResponse, UpstreamRequestError>) {
        if let Some(respond) = self.respond.take() {
            let _ = respond.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Marker(&'static str, Priority);

    impl UpstreamJob for Marker {
        fn priority(&self) -> Priority {
            self.1
        }
        fn retryable(&self) -> bool {
            true
        }
        fn build(&mut self) -> Result<UpstreamRequest, UpstreamRequestError> {
            Err(UpstreamRequestError::BuildFailed(self.0.to_owned()))
        }
        fn complete(self: Box<Self>, _: Result<UpstreamResponse, UpstreamRequestError>) {}
    }

    fn name(job: Option<Box<dyn UpstreamJob>>) -> String {
        match job.map(|mut job| job.build()) {
            Some(Err(UpstreamRequestError::BuildFailed(name))) => name,
            _ => "none".to_owned(),
        }
    }

    #[test]
    fn dequeue_order_prefers_due_retries_and_high_priority() {
        let now = Instant::now();
        let mut queues = Queues::default();
        queues.low.push_back(Box::new(Marker("low", Priority::Low)));
        queues
            .high
            .push_back(Box::new(Marker("high", Priority::High)));
        queues.low_retry.push_back(RetryEntry {
            due: now,
            job: Box::new(Marker("low-retry", Priority::Low)),
        });
        queues.high_retry.push_back(RetryEntry {
            due: now + Duration::from_secs(60),
            job: Box::new(Marker("high-retry-later", Priority::High)),
        });
        assert_eq!(name(queues.pop_next(now, false)), "high");
        assert_eq!(name(queues.pop_next(now, false)), "none");
        assert_eq!(name(queues.pop_next(now, true)), "low-retry");
        assert_eq!(name(queues.pop_next(now, true)), "low");
        assert_eq!(name(queues.pop_next(now, true)), "none");
        queues.make_retries_due(now);
        assert_eq!(name(queues.pop_next(now, true)), "high-retry-later");
    }

    #[tokio::test]
    async fn idle_dispatcher_counts_nothing_in_flight() {
        let config = Arc::new(Config::from_yaml_str("relay: {mode: proxy}").unwrap());
        let upstream = UpstreamHandle::start(config, ShutdownHandle::new()).unwrap();
        // A job whose request cannot be built finishes without touching the network.
        upstream.enqueue(Box::new(Marker("unbuildable", Priority::High)));
        for _ in 0..100 {
            if upstream.queued_len() == 0 && upstream.in_flight() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The dispatcher now waits for the next job holding a concurrency permit; that must
        // not look like a request in flight (graceful shutdown waits for zero).
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(upstream.queued_len(), 0);
        assert_eq!(upstream.in_flight(), 0);
    }

    #[test]
    fn error_body_display_lists_causes() {
        let body = ApiErrorBody::parse(br#"{"detail":"bad","causes":["why"]}"#);
        assert_eq!(body.to_string(), "bad\n  caused by: why");
        assert_eq!(
            ApiErrorBody::parse(b"<html>").to_string(),
            "no error details"
        );
    }
}
