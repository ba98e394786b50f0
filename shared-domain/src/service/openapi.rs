//! OpenAPI for the kit's own routes and schemas, and the `/openapi.json` answer.
//!
//! Services derive their own document with `#[derive(utoipa::OpenApi)]`, reference [`ErrorBody`]
//! in their error responses, and hand the document to
//! [`common_routes`](super::common_routes), which merges in [`kit_openapi`] (health, metrics,
//! openapi paths) so the served document matches the routes that exist.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, Route, web};
use utoipa::OpenApi;

use super::error::ErrorBody;
use super::health::{LiveBody, ReadyBody};

/// The kit's paths and schemas.
#[derive(OpenApi)]
#[openapi(
    paths(health_live, health_ready, metrics, openapi_json),
    components(schemas(ErrorBody, LiveBody, ReadyBody)),
    tags((name = "operations", description = "Health, metrics and API description, the same in every service"))
)]
pub struct KitApi;

/// The kit's paths and schemas as a document to merge into a service's own.
pub fn kit_openapi() -> utoipa::openapi::OpenApi {
    KitApi::openapi()
}

/// `doc` with the kit's paths and schemas merged in.
pub fn with_kit_paths(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    doc.merge(kit_openapi());
    doc
}

/// A `GET` route answering `doc` as JSON, serialised once up front.
pub fn openapi_json_route(doc: &utoipa::openapi::OpenApi) -> Route {
    let body = match doc.to_json() {
        Ok(json) => Bytes::from(json),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise the OpenAPI document");
            Bytes::from_static(b"{}")
        }
    };
    web::get().to(move || {
        let body = body.clone();
        async move {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(body)
        }
    })
}

// The functions below exist only to carry `#[utoipa::path]` documentation of the kit's routes;
// the real handlers are closures in `common_routes`.

/// Liveness: the process runs.
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "The process is alive", body = LiveBody)))]
#[allow(dead_code)]
fn health_live() {}

/// Readiness: the service's own dependencies answer and it is not shutting down.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = ReadyBody),
        (status = 503, description = "A dependency check failed or timed out, or shutting down", body = ReadyBody),
    ))]
#[allow(dead_code)]
fn health_ready() {}

/// Prometheus metrics in text format 0.0.4.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
        body = String, content_type = "text/plain")))]
#[allow(dead_code)]
fn metrics() {}

/// This OpenAPI 3 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document of this service",
        body = Object, content_type = "application/json")))]
#[allow(dead_code)]
fn openapi_json() {}
