//! `POST /api/0/relays/projectconfigs/?version=3`: project configs for downstream relays
//! (relay-protocol.md §6.1).

use actix_web::{web, HttpRequest, HttpResponse};
use relay_protocol::ProjectKey;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::endpoints::passthrough;
use crate::extractors::signed::{invalid_json, read_signed_body};
use crate::service::ServiceState;
use crate::services::projects::ProjectStatus;
use crate::utils::api_error::ApiErrorResponse;

/// The only protocol version this relay serves itself.
const SUPPORTED_VERSION: u32 = 3;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetProjectStates {
    public_keys: Vec<Value>,
    #[serde(default)]
    revisions: Option<Value>,
    #[serde(default)]
    full_config: bool,
    #[serde(default)]
    global: bool,
}

/// `revisions` is used only when it is an array of strings/nulls as long as `publicKeys`.
fn parse_revisions(revisions: Option<Value>, expected_len: usize) -> Vec<Option<String>> {
    let parsed = revisions.and_then(|value| match value {
        Value::Array(entries) if entries.len() == expected_len => entries
            .into_iter()
            .map(|entry| match entry {
                Value::String(rev) => Some(Some(rev)),
                Value::Null => Some(None),
                _ => None,
            })
            .collect::<Option<Vec<_>>>(),
        _ => None,
    });
    parsed.unwrap_or_else(|| vec![None; expected_len])
}

pub async fn handle(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let version = web::Query::<Map<String, Value>>::from_query(request.query_string())
        .ok()
        .and_then(|query| query.get("version").cloned());
    let version = match version {
        None => None,
        Some(Value::String(raw)) => match raw.parse::<u32>() {
            Ok(version) => Some(version),
            Err(error) => {
                return HttpResponse::BadRequest()
                    .content_type("text/plain; charset=utf-8")
                    .body(format!(
                        "Failed to deserialize query string: version: {error}"
                    ))
            }
        },
        Some(_) => None,
    };
    match version {
        Some(version) if version > SUPPORTED_VERSION => {
            return passthrough::forward_request(&state, &request, payload).await;
        }
        Some(SUPPORTED_VERSION) => {}
        _ => {
            return HttpResponse::BadRequest().json(ApiErrorResponse {
                detail: "This API version is no longer supported, upgrade your Relay or Client"
                    .to_owned(),
                causes: Vec::new(),
            })
        }
    }

    let signed = match read_signed_body(&state, &request, payload).await {
        Ok(signed) => signed,
        Err(error) => return error.to_response(),
    };
    let query: GetProjectStates = match serde_json::from_slice(&signed.body) {
        Ok(query) => query,
        Err(error) => return invalid_json(error),
    };

    let revisions = parse_revisions(query.revisions, query.public_keys.len());
    let internal = signed.relay.internal;
    let caller_key = signed.relay.public_key;
    let advertised = state
        .config
        .advertised_upstream()
        .map(|upstream| upstream.to_string());

    let mut configs = Map::new();
    let mut pending = Vec::new();
    let mut unchanged = Vec::new();
    for (raw_key, revision) in query.public_keys.iter().zip(revisions) {
        let Some(key) = raw_key.as_str().and_then(|key| ProjectKey::parse(key).ok()) else {
            continue;
        };
        match state.ingest.projects().get(&key, false) {
            ProjectStatus::Pending => pending.push(key.as_str().to_owned()),
            ProjectStatus::Disabled | ProjectStatus::Proxy => {}
            ProjectStatus::Enabled(project) => {
                if revision.is_some() && revision == project.rev {
                    unchanged.push(key.as_str().to_owned());
                    continue;
                }
                let allowed = internal || project.config.trusted_relays.contains(&caller_key);
                if !allowed {
                    continue;
                }
                let full = internal && query.full_config;
                configs.insert(
                    key.as_str().to_owned(),
                    project.to_served_json(full, advertised.clone()),
                );
            }
        }
    }

    let mut response = Map::new();
    response.insert("configs".into(), Value::Object(configs));
    if !pending.is_empty() {
        response.insert("pending".into(), Value::from(pending));
    }
    if !unchanged.is_empty() {
        response.insert("unchanged".into(), Value::from(unchanged));
    }
    if query.global {
        let projects = state.ingest.projects();
        let global = projects.global_config();
        let status = if global.is_some() || !projects.global_ready_required() {
            "ready"
        } else {
            "pending"
        };
        response.insert(
            "global".into(),
            global.unwrap_or_else(|| Value::Object(Map::new())),
        );
        response.insert("globalStatus".into(), Value::from(status));
    }
    HttpResponse::Ok().json(Value::Object(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_discarded_when_malformed() {
        assert_eq!(
            parse_revisions(Some(serde_json::json!(["a", null])), 2),
            vec![Some("a".to_owned()), None]
        );
        assert_eq!(
            parse_revisions(Some(serde_json::json!(["a"])), 2),
            vec![None, None]
        );
        assert_eq!(
            parse_revisions(Some(serde_json::json!([1, 2])), 2),
            vec![None, None]
        );
        assert_eq!(parse_revisions(None, 1), vec![None]);
    }
}
