//! Where envelopes go once relay is done with them: the upstream, or (relay extension, see
//! `output.directory`) a local directory with one file per envelope.
//!
//! The upstream path wraps each envelope in an [`UpstreamJob`]: the envelope is serialized
//! and compressed when it is dispatched (not when it is queued, so a waiting envelope keeps
//! sharing the request's buffers), network failures keep it queued, a `429` answer is turned
//! into cached rate limits for its project (relay-protocol.md §11), and any other answer
//! settles it without outcome because the upstream now owns it (§7.4).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use relay_config::{Config, UpstreamDescriptor};
use relay_protocol::envelope::Envelope;
use relay_protocol::{ProjectId, ProjectKey};
use relay_quotas::Scoping;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::managed::ManagedEnvelope;
use crate::outcome::{DiscardReason, Outcome};
use crate::services::projects::ProjectCache;
use crate::services::upstream::{
    Priority, SignMode, UpstreamHandle, UpstreamJob, UpstreamRequest, UpstreamRequestError,
    UpstreamResponse,
};
use crate::utils::encoding::{content_encoding_name, encode_body};

/// Receives every envelope that leaves relay.
#[derive(Clone)]
pub enum EnvelopeSink {
    Upstream(UpstreamSink),
    Directory(DirectorySink),
}

impl EnvelopeSink {
    /// Sends an envelope whose items are accounted for.
    pub fn submit(&self, envelope: ManagedEnvelope, target: Option<UpstreamDescriptor>) {
        if envelope.envelope().is_empty() {
            envelope.accept();
            return;
        }
        match self {
            EnvelopeSink::Upstream(sink) => sink.submit(Payload::Managed(envelope), target),
            EnvelopeSink::Directory(sink) => sink.submit(envelope),
        }
    }

    /// Sends an envelope relay created itself (client reports, outcome buckets): failures
    /// are logged, never turned into further outcomes.
    pub fn submit_relay_generated(
        &self,
        envelope: Envelope,
        project_key: ProjectKey,
        project_id: ProjectId,
    ) {
        match self {
            EnvelopeSink::Upstream(sink) => sink.submit(
                Payload::RelayGenerated {
                    envelope,
                    project_key,
                    project_id,
                },
                None,
            ),
            EnvelopeSink::Directory(sink) => sink.write_unmanaged(envelope),
        }
    }
}

/// Sends envelopes to the upstream through the request queue.
#[derive(Clone)]
pub struct UpstreamSink {
    config: Arc<Config>,
    upstream: UpstreamHandle,
    projects: ProjectCache,
}

impl UpstreamSink {
    pub fn new(config: Arc<Config>, upstream: UpstreamHandle, projects: ProjectCache) -> Self {
        UpstreamSink {
            config,
            upstream,
            projects,
        }
    }

    fn submit(&self, payload: Payload, target: Option<UpstreamDescriptor>) {
        self.upstream.enqueue(Box::new(EnvelopeJob {
            config: self.config.clone(),
            projects: self.projects.clone(),
            payload: Some(payload),
            target,
        }));
    }
}

enum Payload {
    Managed(ManagedEnvelope),
    RelayGenerated {
        envelope: Envelope,
        project_key: ProjectKey,
        project_id: ProjectId,
    },
}

impl Payload {
    fn envelope(&self) -> &Envelope {
        match self {
            Payload::Managed(managed) => managed.envelope(),
            Payload::RelayGenerated { envelope, .. } => envelope,
        }
    }

    fn project(&self) -> (ProjectKey, ProjectId) {
        match self {
            Payload::Managed(managed) => (managed.scoping().project_key, managed.project_id()),
            Payload::RelayGenerated {
                project_key,
                project_id,
                ..
            } => (*project_key, *project_id),
        }
    }
}

struct EnvelopeJob {
    config: Arc<Config>,
    projects: ProjectCache,
    /// Always `Some` until `complete` takes it.
    payload: Option<Payload>,
    target: Option<UpstreamDescriptor>,
}

impl UpstreamJob for EnvelopeJob {
    fn priority(&self) -> Priority {
        Priority::Low
    }

    fn retryable(&self) -> bool {
        true
    }

    fn build(&mut self) -> Result<UpstreamRequest, UpstreamRequestError> {
        let payload = self
            .payload
            .as_ref()
            .ok_or_else(|| UpstreamRequestError::BuildFailed("envelope already sent".into()))?;
        build_envelope_request(&self.config, payload, self.target.clone())
    }

    fn complete(mut self: Box<Self>, result: Result<UpstreamResponse, UpstreamRequestError>) {
        let Some(payload) = self.payload.take() else {
            return;
        };
        let scoping = match &payload {
            Payload::Managed(managed) => managed.scoping().clone(),
            Payload::RelayGenerated {
                project_key,
                project_id,
                ..
            } => Scoping {
                organization_id: None,
                project_id: Some(*project_id),
                project_key: *project_key,
                key_id: None,
            },
        };
        match result {
            Ok(response) if response.status == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                self.projects
                    .learn_upstream_rate_limits(&scoping, &response.headers);
                settle_delivered(payload);
            }
            Ok(response) => {
                if !response.status.is_success() {
                    tracing::debug!(status = %response.status, "upstream rejected envelope");
                }
                settle_delivered(payload);
            }
            Err(error) if error.is_received() => settle_delivered(payload),
            Err(error) => {
                tracing::error!(error = %error, "error sending envelope");
                if let Payload::Managed(managed) = payload {
                    managed.reject(Outcome::Invalid(DiscardReason::Internal));
                }
            }
        }
    }
}

fn settle_delivered(payload: Payload) {
    if let Payload::Managed(managed) = payload {
        managed.accept();
    }
}

/// Builds `POST /api/<project_id>/envelope/` per relay-protocol.md §8.1.
fn build_envelope_request(
    config: &Config,
    payload: &Payload,
    target: Option<UpstreamDescriptor>,
) -> Result<UpstreamRequest, UpstreamRequestError> {
    let envelope = payload.envelope();
    let (project_key, project_id) = payload.project();
    let headers_in = envelope.headers();

    let mut body = Vec::with_capacity(envelope.serialized_size_hint());
    envelope.serialize_into(&mut body);
    let encoding = config.values.http.encoding;
    let body = encode_body(encoding, &body)
        .map_err(|error| UpstreamRequestError::BuildFailed(error.to_string()))?;

    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-sentry-envelope"),
    );
    if let Some(name) = content_encoding_name(encoding) {
        headers.insert(
            reqwest::header::CONTENT_ENCODING,
            HeaderValue::from_static(name),
        );
    }
    let version = headers_in
        .version
        .unwrap_or(relay_protocol::auth::DEFAULT_PROTOCOL_VERSION);
    let mut auth = format!("Sentry sentry_key={project_key}, sentry_version={version}");
    if let Some(client) = &headers_in.client {
        auth.push_str(", sentry_client=");
        auth.push_str(client);
    }
    insert_header(&mut headers, "x-sentry-auth", &auth)?;
    insert_header(&mut headers, "x-forwarded-for", &headers_in.forwarded_for)?;
    if let Some(user_agent) = &headers_in.user_agent {
        insert_header(&mut headers, "user-agent", user_agent)?;
    }
    if let Some(origin) = &headers_in.origin {
        insert_header(&mut headers, "origin", origin.as_str())?;
    }
    Ok(UpstreamRequest {
        method: reqwest::Method::POST,
        path: format!("/api/{project_id}/envelope/"),
        headers,
        body: Bytes::from(body),
        sign: SignMode::EmptyIfCredentials,
        target,
    })
}

/// Client-controlled values may contain bytes that are not valid in a header; they are
/// dropped rather than failing the envelope.
fn insert_header(
    headers: &mut HeaderMap,
    name: &'static str,
    value: &str,
) -> Result<(), UpstreamRequestError> {
    match HeaderValue::from_str(value) {
        Ok(value) => {
            headers.insert(name, value);
        }
        Err(_) => tracing::debug!(header = name, "dropping header value that is not valid"),
    }
    Ok(())
}

/// Writes each envelope into `<output.directory>/envelopes/` (relay extension for the
/// no-upstream embedded default). Files are named `<unix millis>-<sequence>-<event id>.envelope`
/// so a directory listing shows arrival order.
#[derive(Clone)]
pub struct DirectorySink {
    directory: Arc<PathBuf>,
    sequence: Arc<AtomicU64>,
}

impl DirectorySink {
    /// Creates `<directory>/envelopes/`.
    pub fn new(directory: PathBuf) -> std::io::Result<DirectorySink> {
        let directory = directory.join("envelopes");
        std::fs::create_dir_all(&directory)?;
        Ok(DirectorySink {
            directory: Arc::new(directory),
            sequence: Arc::new(AtomicU64::new(0)),
        })
    }

    fn file_path(&self, envelope: &Envelope) -> PathBuf {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let millis = chrono::Utc::now().timestamp_millis();
        let id = envelope
            .event_id()
            .map(|id| id.to_string())
            .unwrap_or_else(|| "noevent".to_owned());
        self.directory
            .join(format!("{millis}-{sequence:06}-{id}.envelope"))
    }

    fn submit(&self, managed: ManagedEnvelope) {
        let path = self.file_path(managed.envelope());
        tokio::spawn(async move {
            let bytes = managed.envelope().to_vec();
            match tokio::fs::write(&path, bytes).await {
                Ok(()) => {
                    tracing::debug!(path = %path.display(), "wrote envelope");
                    managed.accept();
                }
                Err(error) => {
                    tracing::error!(path = %path.display(), error = %error, "could not write envelope");
                    managed.reject(Outcome::Invalid(DiscardReason::Internal));
                }
            }
        });
    }

    fn write_unmanaged(&self, envelope: Envelope) {
        let path = self.file_path(&envelope);
        tokio::spawn(async move {
            if let Err(error) = tokio::fs::write(&path, envelope.to_vec()).await {
                tracing::error!(path = %path.display(), error = %error, "could not write envelope");
            }
        });
    }
}

/// Time an envelope spent queued, for tracing.
pub fn elapsed_ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}
