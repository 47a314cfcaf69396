//! Envelopes that relay creates itself (client reports, outcome buckets), with the
//! request meta of envelope.md §10, and the internal DSN of requests (http-api.md §3.3).

use relay_config::{Config, UpstreamScheme};
use relay_protocol::dsn::{Dsn, DsnScheme};
use relay_protocol::envelope::{ContentType, Envelope, Item, ItemType, RequestMeta};
use relay_protocol::{ProjectId, ProjectKey};

use crate::RELAY_VERSION;

/// `<upstream scheme>://<key>:@<upstream host>[:port]/<project id>`; project `0` for legacy
/// store requests without one.
pub fn internal_dsn(config: &Config, key: ProjectKey, project_id: Option<ProjectId>) -> Dsn {
    let upstream = config.upstream_descriptor();
    let scheme = match upstream.scheme() {
        UpstreamScheme::Http => DsnScheme::Http,
        UpstreamScheme::Https => DsnScheme::Https,
    };
    Dsn::internal(
        scheme,
        key,
        upstream.host(),
        Some(upstream.port()),
        project_id.unwrap_or(ProjectId(0)),
    )
}

/// Builds an envelope for `project` holding one JSON item per payload.
pub fn relay_generated_envelope(
    config: &Config,
    project_key: &ProjectKey,
    project_id: ProjectId,
    items: Vec<(ItemType, Vec<u8>)>,
) -> Envelope {
    let mut meta = RequestMeta::new(internal_dsn(config, *project_key, Some(project_id)));
    meta.client = Some(format!("sentry.relay/{RELAY_VERSION}"));
    meta.user_agent = Some(format!("sentry-relay/{RELAY_VERSION}"));
    let mut envelope = Envelope::from_request_meta(&meta);
    for (item_type, payload) in items {
        let mut item = Item::new(item_type);
        item.set_payload(ContentType::Json, payload);
        envelope.add_item(item);
    }
    envelope
}
