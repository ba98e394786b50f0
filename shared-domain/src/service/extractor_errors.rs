//! Error handlers for actix's own extractors (`web::Path`, `web::Query`, `web::Json`), so that a
//! service using them still answers with an [`ApiError`] body rather than actix's plain text.
//! [`common_routes`](super::common_routes) installs them; [`install`] does it alone.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web;

use super::error::ApiError;
use super::json::{DEFAULT_JSON_LIMIT, json_error};

/// Registers `PathConfig`, `QueryConfig` and `JsonConfig` (limit [`DEFAULT_JSON_LIMIT`]) whose
/// errors are [`ApiError`]s. A later `App::app_data` of the same config type overrides these.
pub fn install(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|error, _| path_error(&error).into()))
        .app_data(web::QueryConfig::default().error_handler(|error, _| query_error(&error).into()))
        .app_data(
            web::JsonConfig::default()
                .limit(DEFAULT_JSON_LIMIT)
                .error_handler(|error, _| json_payload_error(error).into()),
        );
}

/// `web::Path` failed: the path segment does not parse.
pub fn path_error(error: &PathError) -> ApiError {
    match error {
        PathError::Deserialize(inner) => {
            ApiError::validation("path", format!("invalid path parameter: {inner}"))
        }
        other => ApiError::validation("path", format!("invalid path parameter: {other}")),
    }
}

/// `web::Query` failed (prefer [`QueryParams`](super::query::QueryParams), which names the
/// parameter).
pub fn query_error(error: &QueryPayloadError) -> ApiError {
    match error {
        QueryPayloadError::Deserialize(inner) => {
            ApiError::validation("query", format!("invalid query string: {inner}"))
        }
        other => ApiError::validation("query", format!("invalid query string: {other}")),
    }
}

/// `web::Json` failed (prefer [`JsonBody`](super::json::JsonBody), which names the field path).
pub fn json_payload_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::payload_too_large(limit),
        JsonPayloadError::ContentType => {
            ApiError::unsupported_media_type("expected Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(inner) => json_error(".", inner),
        other => {
            tracing::debug!(error = %other, "cannot read JSON body");
            ApiError::bad_request("the request body could not be read")
        }
    }
}
