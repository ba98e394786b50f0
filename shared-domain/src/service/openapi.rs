//! OpenAPI for the kit's own routes and schemas, and the `/openapi.json` answer.
//!
//! Services derive their own document with `#[derive(utoipa::OpenApi)]`, reference [`ErrorBody`]
//! in their error responses, and hand the document to
//! [`common_routes`](super::common_routes), which merges in [`kit_openapi`] (health, metrics,
//! openapi paths) so the served document matches the routes that exist, and documents the
//! error answers the kit itself gives on every route ([`with_common_errors`]).

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

/// `doc` with the kit's paths and schemas merged in, and [`with_common_errors`] applied.
pub fn with_kit_paths(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    doc = with_common_errors(doc);
    doc.merge(kit_openapi());
    doc
}

/// `doc` with the error answers the kit gives on any route documented on every operation that
/// can get them, where the service did not document them itself: 400 `ValidationError` (a path,
/// query or header parameter that does not parse — the extractors answer it before a handler
/// runs), 413 and 415 (a request body too large, or not JSON), 401 (an operation with a
/// security requirement) and 503 (a dependency down). A client, or a contract test such as
/// schemathesis, then finds every status it can receive in the document.
pub fn with_common_errors(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let secured_by_default = doc.security.as_ref().is_some_and(|s| !s.is_empty());
    for item in doc.paths.paths.values_mut() {
        let item_has_parameters = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let has_body = operation.request_body.is_some();
            let has_parameters =
                item_has_parameters || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let secured = operation
                .security
                .as_ref()
                .map_or(secured_by_default, |s| !s.is_empty());
            let mut add = |status: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            };
            if has_body || has_parameters {
                add(
                    "400",
                    "A parameter or the body is invalid (ValidationError naming it)",
                );
            }
            if has_body {
                add(
                    "413",
                    "The body is larger than the service accepts (PayloadTooLarge)",
                );
                add(
                    "415",
                    "The body is not `application/json` (UnsupportedMediaType)",
                );
            }
            if secured {
                add("401", "Missing or wrong credentials (Unauthorized)");
            }
            add(
                "503",
                "A dependency is unavailable; retry after `Retry-After` (Unavailable)",
            );
        }
    }
    doc
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
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

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{OpenApiBuilder, PathsBuilder, ResponseBuilder};

    use super::*;

    fn statuses(doc: &utoipa::openapi::OpenApi, path: &str, post: bool) -> Vec<String> {
        let item = &doc.paths.paths[path];
        let operation = if post { &item.post } else { &item.get };
        operation
            .as_ref()
            .map(|o| o.responses.responses.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn common_errors_are_documented_without_replacing_the_services_own() {
        let with_body = OperationBuilder::new()
            .request_body(Some(RequestBodyBuilder::new().build()))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response(
                "400",
                ResponseBuilder::new().description("the service's own"),
            )
            .build();
        let plain = OperationBuilder::new()
            .response("200", ResponseBuilder::new().description("ok"))
            .build();
        let doc = OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path("/things", PathItem::new(HttpMethod::Post, with_body))
                    .path("/ping", PathItem::new(HttpMethod::Get, plain)),
            )
            .build();

        let doc = with_common_errors(doc);

        assert_eq!(
            statuses(&doc, "/things", true),
            ["400", "401", "413", "415", "503"]
        );
        assert_eq!(statuses(&doc, "/ping", false), ["200", "503"]);
        let own = &doc.paths.paths["/things"]
            .post
            .as_ref()
            .unwrap()
            .responses
            .responses["400"];
        assert!(
            serde_json::to_string(own)
                .unwrap()
                .contains("the service's own")
        );
    }
}
