//! `POST /api/0/relays/publickeys/` (relay-protocol.md §6.2): every requested id is answered,
//! unknown ones with `null`.

use actix_web::{web, HttpRequest, HttpResponse};
use relay_auth::RelayId;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::extractors::signed::{invalid_json, read_signed_body};
use crate::service::ServiceState;

#[derive(Deserialize)]
struct PublicKeysRequest {
    relay_ids: Vec<RelayId>,
}

pub async fn handle(
    state: web::Data<ServiceState>,
    request: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let signed = match read_signed_body(&state, &request, payload).await {
        Ok(signed) => signed,
        Err(error) => return error.to_response(),
    };
    let query: PublicKeysRequest = match serde_json::from_slice(&signed.body) {
        Ok(query) => query,
        Err(error) => return invalid_json(error),
    };
    let lookups = query
        .relay_ids
        .iter()
        .map(|relay_id| state.relays.get(*relay_id));
    let infos = futures::future::join_all(lookups).await;
    let mut relays = Map::new();
    for (relay_id, info) in query.relay_ids.iter().zip(infos) {
        let value = match info {
            Some(info) => serde_json::to_value(info).unwrap_or(Value::Null),
            None => Value::Null,
        };
        relays.insert(relay_id.to_string(), value);
    }
    HttpResponse::Ok().json(serde_json::json!({ "relays": relays }))
}
