//! [`common_routes`]: the routes and extractor settings every service has, registered in one call.

use actix_web::{HttpRequest, HttpResponse, web};

use super::error::ApiError;
use super::extractor_errors;
use super::health::Health;
use super::metrics::Metrics;
use super::openapi::{openapi_json_route, with_kit_paths};

/// Registers `GET /health/live`, `GET /health/ready`, `GET /metrics` and `GET /openapi.json`
/// (serving `openapi` with the kit's own paths merged in), a JSON 404 `NotFound` for unknown
/// routes, and [`ApiError`] bodies for actix's own `web::Path`/`web::Query`/`web::Json`
/// extractor errors (see [`extractor_errors`]).
///
/// `App::new().wrap(RequestContext::new(metrics.clone()))
///     .configure(|cfg| common_routes(cfg, metrics.clone(), health.clone(), doc.clone()))`
pub fn common_routes(
    cfg: &mut web::ServiceConfig,
    metrics: Metrics,
    health: Health,
    openapi: utoipa::openapi::OpenApi,
) {
    let doc = with_kit_paths(openapi);
    cfg.route(
        "/health/live",
        web::get().to(|| async { Health::live_response() }),
    )
    .route(
        "/health/ready",
        web::get().to(move || {
            let health = health.clone();
            async move { health.ready_response().await }
        }),
    )
    .route(
        "/metrics",
        web::get().to(move || {
            let metrics = metrics.clone();
            async move { metrics.http_response() }
        }),
    )
    .route("/openapi.json", openapi_json_route(&doc))
    .default_service(web::to(unknown_route));
    extractor_errors::install(cfg);
}

/// 404 for a path no route matches (the path is not echoed back).
async fn unknown_route(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found(format!(
        "no route for {} on this path",
        req.method()
    )))
}
