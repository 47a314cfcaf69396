//! Health checks (http-api.md §8).

use actix_web::{web, HttpResponse};

use crate::service::ServiceState;

/// `GET /api/relay/healthcheck/live/` and `GET /api/0/relays/live/`.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "is_healthy": true }))
}

/// `GET /api/relay/healthcheck/<kind>/`.
pub async fn healthcheck(state: web::Data<ServiceState>, kind: web::Path<String>) -> HttpResponse {
    match kind.as_str() {
        "live" => live().await,
        "ready" => {
            if state.health.is_ready() {
                HttpResponse::Ok().json(serde_json::json!({ "is_healthy": true }))
            } else {
                HttpResponse::ServiceUnavailable().json(serde_json::json!({ "is_healthy": false }))
            }
        }
        other => HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "Invalid URL: unknown variant `{other}`, expected `live` or `ready`"
            )),
    }
}
