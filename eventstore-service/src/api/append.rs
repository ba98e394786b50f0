//! `POST /api/event-stores/{store}/streams/{streamId}`: append events to a stream.

use actix_web::{HttpRequest, HttpResponse, web};
use shared_domain::service::{ApiError, JsonBody};
use shared_domain::wire::AppendRequest;

use super::params;
use crate::model::ValidAppend;
use crate::startup::AppState;

/// The header that carries an idempotency key (the body's `idempotencyKey` works too).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Appends atomically, checking the expected version: 201 with the result; 409
/// `StreamVersionConflict` with `details {expectedVersion, currentVersion}`; a retry with the same
/// idempotency key (or the same `eventId`s) answers the original result again.
#[utoipa::path(post, path = "/api/event-stores/{store}/streams/{streamId}", tag = "streams",
    params(("store" = String, Path, description = "Store name"),
           ("streamId" = String, Path, description = "Stream id, percent-encoded"),
           ("Idempotency-Key" = Option<String>, Header, description = "Idempotency key")),
    request_body(content = Object, description = "`{events: [{type, data, metadata?, schemaVersion?, eventId?}], options?: {expectedStreamVersion?, idempotencyKey?}}`"),
    responses(
        (status = 201, description = "Appended (or the original result of an idempotent retry)", body = Object),
        (status = 400, description = "Invalid input; `details.field` names it", body = shared_domain::service::ErrorBody),
        (status = 404, description = "No such store", body = shared_domain::service::ErrorBody),
        (status = 409, description = "StreamVersionConflict or DuplicateEventId", body = shared_domain::service::ErrorBody),
        (status = 413, description = "Body too large", body = shared_domain::service::ErrorBody),
        (status = 415, description = "Not JSON", body = shared_domain::service::ErrorBody),
        (status = 422, description = "IdempotencyKeyReused with another request", body = shared_domain::service::ErrorBody),
        (status = 503, description = "Database unavailable", body = shared_domain::service::ErrorBody),
    ))]
pub async fn append(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: JsonBody<AppendRequest>,
) -> Result<HttpResponse, ApiError> {
    let (store, stream) = path.into_inner();
    let store = params::store_name(&store)?;
    let stream = params::stream_id(&stream)?;
    let header_key = match req.headers().get(IDEMPOTENCY_KEY_HEADER) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::validation("Idempotency-Key", "Idempotency-Key must be visible ASCII")
        })?),
    };
    let append = ValidAppend::parse(
        stream,
        body.into_inner(),
        header_key,
        state.config.max_events_per_append,
    )?;
    let result = state.writers.append(&store, append).await?;
    Ok(HttpResponse::Created().json(result))
}
