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
    let encoding = config.http_encoding();
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use relay_config::HttpEncoding;
    use relay_protocol::envelope::ItemType;
    use relay_protocol::{DataCategory, EventId};

    use super::*;
    use crate::testutils::{
        self, drain_outcomes, envelope_files, json_item, outcome_summary, project_key,
        TestEnvelope, PROJECT_KEY,
    };
    use crate::utils::budget::MemoryBudget;
    use crate::utils::encoding::decode_body;
    use crate::utils::encoding::RequestEncoding;

    const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

    /// Waits until `budget` holds nothing any more (the sink settled every envelope).
    async fn settled(budget: &MemoryBudget) {
        for _ in 0..500 {
            if budget.used_envelopes() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("envelopes were not settled");
    }

    fn event_envelope() -> TestEnvelope {
        TestEnvelope::from_items(vec![json_item(ItemType::Event, r#"{"message":"hello"}"#)])
            .with(|envelope| envelope.set_event_id(EventId::parse(EVENT_ID).unwrap()))
    }

    #[tokio::test]
    async fn directory_sink_writes_one_file_per_envelope_and_accepts_it() {
        let directory = tempfile::tempdir().unwrap();
        let sink = EnvelopeSink::Directory(DirectorySink::new(directory.path().into()).unwrap());
        let budget = MemoryBudget::new(1 << 20, 10);
        let (outcomes, mut receiver) = crate::outcome::OutcomeHandle::capturing();
        let mut with_event = event_envelope().managed(outcomes.clone());
        with_event.set_permit(budget.try_reserve(100).unwrap());
        let mut without_event =
            TestEnvelope::from_items(vec![json_item(ItemType::Session, "{}")]).managed(outcomes);
        without_event.set_permit(budget.try_reserve(100).unwrap());
        sink.submit(with_event, None);
        sink.submit(without_event, None);
        settled(&budget).await;

        let files = envelope_files(directory.path());
        assert_eq!(files.len(), 2);
        let names: Vec<String> = files
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            names[0].ends_with(&format!("-000000-{EVENT_ID}.envelope")),
            "{names:?}"
        );
        assert!(names[1].ends_with("-000001-noevent.envelope"), "{names:?}");
        let written = Envelope::parse(std::fs::read(&files[0]).unwrap().into()).unwrap();
        assert_eq!(written.event_id(), Some(EventId::parse(EVENT_ID).unwrap()));
        assert_eq!(written.items().len(), 1);
        assert_eq!(
            written.items()[0].payload_slice(),
            br#"{"message":"hello"}"#
        );
        assert!(drain_outcomes(&mut receiver).is_empty());
    }

    #[tokio::test]
    async fn empty_envelope_is_accepted_without_a_file() {
        let directory = tempfile::tempdir().unwrap();
        let sink = EnvelopeSink::Directory(DirectorySink::new(directory.path().into()).unwrap());
        let (managed, mut receiver) = TestEnvelope::from_items(Vec::new()).capturing();
        sink.submit(managed, None);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(envelope_files(directory.path()).is_empty());
        assert!(drain_outcomes(&mut receiver).is_empty());
    }

    #[tokio::test]
    async fn failed_write_is_an_internal_outcome() {
        let directory = tempfile::tempdir().unwrap();
        let sink = EnvelopeSink::Directory(DirectorySink::new(directory.path().into()).unwrap());
        std::fs::remove_dir_all(directory.path().join("envelopes")).unwrap();
        let budget = MemoryBudget::new(1 << 20, 10);
        let (mut managed, mut receiver) = event_envelope().capturing();
        managed.set_permit(budget.try_reserve(100).unwrap());
        sink.submit(managed, None);
        settled(&budget).await;
        assert_eq!(
            outcome_summary(&drain_outcomes(&mut receiver)),
            vec![("invalid", "internal".to_owned(), DataCategory::Error, 1)]
        );
    }

    #[tokio::test]
    async fn relay_generated_envelopes_are_written_too() {
        let directory = tempfile::tempdir().unwrap();
        let sink = EnvelopeSink::Directory(DirectorySink::new(directory.path().into()).unwrap());
        let mut envelope = Envelope::new(Default::default());
        envelope.add_item(json_item(ItemType::ClientReport, "{}"));
        sink.submit_relay_generated(envelope, project_key(), ProjectId(42));
        for _ in 0..500 {
            if !envelope_files(directory.path()).is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no file written");
    }

    fn header<'a>(request: &'a UpstreamRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .get(name)
            .map(|value| value.to_str().unwrap())
    }

    #[test]
    fn envelope_request_carries_the_client_s_metadata() {
        let config = testutils::config("http: {encoding: identity}");
        let managed = event_envelope()
            .with(|envelope| {
                let headers = envelope.headers_mut();
                headers.client = Some("sentry.python/2.0.0".to_owned());
                headers.version = Some(6);
                headers.forwarded_for = "1.2.3.4, 10.0.0.1".to_owned();
                headers.user_agent = Some("Mozilla/5.0".to_owned());
                headers.origin = Some("https://app.example.com".parse().unwrap());
            })
            .managed(crate::outcome::OutcomeHandle::disabled());
        let serialized = managed.envelope().to_vec();
        let target: UpstreamDescriptor = "https://eu.example.com/".parse().unwrap();
        let payload = Payload::Managed(managed);
        let request = build_envelope_request(&config, &payload, Some(target.clone())).unwrap();
        assert_eq!(request.method, reqwest::Method::POST);
        assert_eq!(request.path, "/api/42/envelope/");
        assert_eq!(request.sign, SignMode::EmptyIfCredentials);
        assert_eq!(request.target, Some(target));
        assert_eq!(
            header(&request, "content-type"),
            Some("application/x-sentry-envelope")
        );
        assert_eq!(header(&request, "content-encoding"), None);
        assert_eq!(
            header(&request, "x-sentry-auth"),
            Some(
                format!(
                    "Sentry sentry_key={PROJECT_KEY}, sentry_version=6, sentry_client=sentry.python/2.0.0"
                )
                .as_str()
            )
        );
        assert_eq!(
            header(&request, "x-forwarded-for"),
            Some("1.2.3.4, 10.0.0.1")
        );
        assert_eq!(header(&request, "user-agent"), Some("Mozilla/5.0"));
        assert_eq!(header(&request, "origin"), Some("https://app.example.com/"));
        assert_eq!(request.body.as_ref(), serialized.as_slice());
        if let Payload::Managed(managed) = payload {
            managed.accept();
        }
    }

    #[test]
    fn envelope_request_body_is_compressed_with_the_configured_encoding() {
        for (encoding, name, decoding) in [
            (HttpEncoding::Zstd, "zstd", RequestEncoding::Zstd),
            (HttpEncoding::Gzip, "gzip", RequestEncoding::Gzip),
            (HttpEncoding::Deflate, "deflate", RequestEncoding::Deflate),
            (HttpEncoding::Br, "br", RequestEncoding::Brotli),
        ] {
            let config = testutils::config(&format!("http: {{encoding: {name}}}"));
            assert_eq!(config.http_encoding(), encoding);
            let managed = event_envelope().managed(crate::outcome::OutcomeHandle::disabled());
            let serialized = managed.envelope().to_vec();
            let payload = Payload::Managed(managed);
            let request = build_envelope_request(&config, &payload, None).unwrap();
            assert_eq!(header(&request, "content-encoding"), Some(name));
            let body = decode_body(decoding, &request.body, 1 << 20).unwrap();
            assert_eq!(body, serialized, "{name}");
            if let Payload::Managed(managed) = payload {
                managed.accept();
            }
        }
    }

    #[test]
    fn envelope_request_defaults_and_invalid_header_values() {
        let config = Config::default();
        let mut envelope = Envelope::new(Default::default());
        envelope.add_item(json_item(ItemType::Event, "{}"));
        envelope.headers_mut().user_agent = Some("bad\nagent".to_owned());
        let payload = Payload::RelayGenerated {
            envelope,
            project_key: project_key(),
            project_id: ProjectId(0),
        };
        let request = build_envelope_request(&config, &payload, None).unwrap();
        // Legacy store requests without a project id go to project 0.
        assert_eq!(request.path, "/api/0/envelope/");
        assert_eq!(
            header(&request, "x-sentry-auth"),
            Some(format!("Sentry sentry_key={PROJECT_KEY}, sentry_version=7").as_str())
        );
        // The default encoding is zstd.
        assert_eq!(header(&request, "content-encoding"), Some("zstd"));
        // A value that cannot be a header is dropped, the request is still built.
        assert_eq!(header(&request, "user-agent"), None);
        assert_eq!(header(&request, "origin"), None);
        // `X-Forwarded-For` is always present, possibly empty (relay-protocol.md §8.1).
        assert_eq!(header(&request, "x-forwarded-for"), Some(""));
    }

    fn job(projects: &ProjectCache, managed: ManagedEnvelope) -> Box<EnvelopeJob> {
        Box::new(EnvelopeJob {
            config: Arc::new(Config::default()),
            projects: projects.clone(),
            payload: Some(Payload::Managed(managed)),
            target: None,
        })
    }

    fn response(status: u16, headers: &[(&'static str, &'static str)]) -> UpstreamResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        UpstreamResponse {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::new(),
        }
    }

    #[test]
    fn answered_envelopes_are_settled_without_outcome_and_429_is_learned() {
        let projects = ProjectCache::new(Arc::new(Config::default()));
        let (managed, mut receiver) = event_envelope().capturing();
        job(&projects, managed).complete(Ok(response(
            429,
            &[("x-sentry-rate-limits", "60:error:project:too_many")],
        )));
        assert_eq!(projects.rate_limits(&project_key()).len(), 1);

        let (managed, _) = event_envelope().capturing();
        job(&projects, managed).complete(Ok(response(400, &[])));
        let (managed, _) = event_envelope().capturing();
        job(&projects, managed).complete(Err(UpstreamRequestError::ResponseError {
            status: reqwest::StatusCode::FORBIDDEN,
            detail: Default::default(),
        }));
        assert!(drain_outcomes(&mut receiver).is_empty());
    }

    #[test]
    fn envelopes_that_never_reached_the_upstream_are_internal_outcomes() {
        let projects = ProjectCache::new(Arc::new(Config::default()));
        for error in [
            UpstreamRequestError::Timeout,
            UpstreamRequestError::ShuttingDown,
            UpstreamRequestError::Denied,
        ] {
            let (managed, mut receiver) = event_envelope().capturing();
            job(&projects, managed).complete(Err(error));
            assert_eq!(
                outcome_summary(&drain_outcomes(&mut receiver)),
                vec![("invalid", "internal".to_owned(), DataCategory::Error, 1)]
            );
        }
    }
}
