//! The route table of http-api.md §2.
//!
//! Ingestion routes get the CORS layer and a `405` with `Allow` for other methods; every path
//! no route matches goes to the forwarder.

pub mod autoscaling;
pub mod common;
pub mod cron;
pub mod envelope;
pub mod health;
pub mod minidump;
pub mod otlp;
pub mod passthrough;
pub mod project_configs;
pub mod public_keys;
pub mod security;
pub mod store;
pub mod unreal;
pub mod upload;
pub mod vercel;

use actix_web::http::Method;
use actix_web::{guard, middleware, web, HttpResponse};

use crate::middlewares::{cors, method_not_allowed};

/// Builds an ingestion resource: CORS, preflight, the given method routes and `405`.
fn ingest_resource(
    path: &str,
    allow: &'static str,
    routes: Vec<actix_web::Route>,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut resource = web::resource(path);
    for route in routes {
        resource = resource.route(route);
    }
    resource
        .route(web::method(Method::OPTIONS).to(move || async move { cors::preflight(allow) }))
        .default_service(web::to(move || async move { method_not_allowed(allow) }))
        .wrap(middleware::from_fn(cors::cors_headers))
}

/// A route for `GET` that also answers `HEAD` (http-api.md §1).
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// A non-CORS resource with a fixed method list.
fn fixed_resource(path: &str, allow: &'static str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(move || async move { method_not_allowed(allow) }))
}

/// Routes of the internal listener (health checks, autoscaling).
pub fn configure_internal(config: &mut web::ServiceConfig) {
    config
        .service(fixed_resource(
            "/api/relay/healthcheck/{kind}/",
            "GET,HEAD",
            get_or_head().to(health::healthcheck),
        ))
        .service(fixed_resource(
            "/api/relay/autoscaling/",
            "GET,HEAD",
            get_or_head().to(autoscaling::handle),
        ))
        .service(web::resource("/api/relay/{tail:.*}").to(HttpResponse::NotFound));
}

/// Routes of the main listener. `with_internal` is false when a separate internal listener
/// exists; `/api/relay/*` then answers `404` here.
pub fn configure_main(config: &mut web::ServiceConfig, with_internal: bool) {
    // The envelope route carries almost all traffic; it is matched first.
    config.service(ingest_resource(
        "/api/{project_id}/envelope/",
        "POST",
        vec![web::post().to(envelope::handle)],
    ));
    if with_internal {
        configure_internal(config);
    } else {
        config.service(web::resource("/api/relay/{tail:.*}").to(HttpResponse::NotFound));
    }
    config
        .service(fixed_resource(
            "/api/0/relays/live/",
            "GET,HEAD",
            get_or_head().to(health::live),
        ))
        .service(fixed_resource(
            "/api/0/relays/projectconfigs/",
            "POST",
            web::post().to(project_configs::handle),
        ))
        .service(fixed_resource(
            "/api/0/relays/publickeys/",
            "POST",
            web::post().to(public_keys::handle),
        ))
        .service(fixed_resource(
            "/api/0/relays/register/challenge/",
            "POST",
            web::post().to(passthrough::register),
        ))
        .service(fixed_resource(
            "/api/0/relays/register/response/",
            "POST",
            web::post().to(passthrough::register),
        ))
        .service(ingest_resource(
            "/api/store/",
            "POST,GET,HEAD",
            vec![
                web::post().to(store::post_without_project),
                get_or_head().to(store::get_without_project),
            ],
        ))
        .service(ingest_resource(
            "/api/{project_id}/store/",
            "POST,GET,HEAD",
            vec![
                web::post().to(store::post_with_project),
                get_or_head().to(store::get_with_project),
            ],
        ))
        .service(ingest_resource(
            "/api/{project_id}/security/",
            "POST",
            vec![web::post().to(security::handle_security)],
        ))
        .service(ingest_resource(
            "/api/{project_id}/csp-report/",
            "POST",
            vec![web::post().to(security::handle_security)],
        ))
        .service(ingest_resource(
            "/api/{project_id}/nel/",
            "POST",
            vec![web::post().to(security::handle_nel)],
        ))
        .service(ingest_resource(
            "/api/{project_id}/minidump",
            "POST",
            vec![web::post().to(minidump::handle_minidump)],
        ))
        .service(ingest_resource(
            "/api/{project_id}/minidump/",
            "POST",
            vec![web::post().to(minidump::handle_minidump)],
        ))
        .service(ingest_resource(
            "/api/{project_id}/events/{event_id}/attachments/",
            "POST",
            vec![web::post().to(minidump::handle_attachments)],
        ))
        .service(ingest_resource(
            "/api/{project_id}/unreal/{sentry_key}/",
            "POST",
            vec![web::post().to(unreal::handle)],
        ));
    for path in [
        "/api/{project_id}/integration/otlp/v1/traces",
        "/api/{project_id}/integration/otlp/v1/traces/",
    ] {
        config.service(ingest_resource(
            path,
            "POST",
            vec![web::post().to(otlp::handle_traces)],
        ));
    }
    for path in [
        "/api/{project_id}/integration/otlp/v1/logs",
        "/api/{project_id}/integration/otlp/v1/logs/",
    ] {
        config.service(ingest_resource(
            path,
            "POST",
            vec![web::post().to(otlp::handle_logs)],
        ));
    }
    for path in [
        "/api/{project_id}/integration/vercel/logs",
        "/api/{project_id}/integration/vercel/logs/",
    ] {
        config.service(ingest_resource(
            path,
            "POST",
            vec![web::post().to(vercel::handle)],
        ));
    }
    config
        .service(ingest_resource(
            "/api/{project_id}/upload/",
            "POST",
            vec![web::post().to(upload::create)],
        ))
        .service(ingest_resource(
            "/api/{project_id}/upload/{upload_key}/",
            "PATCH",
            vec![web::patch().to(upload::append)],
        ));
    for path in [
        "/api/{project_id}/cron/{slug}/{sentry_key}",
        "/api/{project_id}/cron/{slug}/{sentry_key}/",
    ] {
        config.service(ingest_resource(
            path,
            "GET,POST,HEAD",
            vec![
                get_or_head().to(cron::get_with_key),
                web::post().to(cron::post_with_key),
            ],
        ));
    }
    for path in [
        "/api/{project_id}/cron/{slug}",
        "/api/{project_id}/cron/{slug}/",
    ] {
        config.service(ingest_resource(
            path,
            "GET,POST,HEAD",
            vec![get_or_head().to(cron::get), web::post().to(cron::post)],
        ));
    }
    config.default_service(web::to(passthrough::fallback));
}
