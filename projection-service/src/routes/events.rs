//! `POST /api/projections/orders/events`: the walkthrough's projection route. Checks in this
//! order — bearer token, any of `PROJECTION_AUTH_TOKEN`'s (401), body size and type (413/415), Standard Webhooks signature when a
//! secret is set (401), JSON shape of every event (400) — and writes nothing unless all pass.
//! Answers `{"success": true, "processed": n}` only once Redis holds the result; any Redis
//! failure is a 503 so the store retries.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use shared_domain::service::auth::require_any_token;
use shared_domain::service::json::parse_json;
use shared_domain::service::{ApiError, JsonBytes};
use shared_domain::wire::WebhookDelivery;

use super::AppState;
use crate::projector::{ApplyReport, ProjectionError};

/// How long the store should wait before retrying after a Redis failure, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// The answer to a delivery: the walkthrough's two fields, then what happened.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Processed {
    pub success: bool,
    /// Events in the delivery (the walkthrough's `events.length`).
    pub processed: usize,
    /// Events that changed the read models.
    pub applied: usize,
    /// Events already applied before.
    pub duplicates: usize,
    /// Events of types no projection handles.
    pub skipped: usize,
    /// The live checkpoint after the delivery.
    pub checkpoint: u64,
}

/// Receive a batch of events from the event store.
#[utoipa::path(
    post,
    path = "/api/projections/orders/events",
    tag = "projection",
    request_body(content = serde_json::Value, description = "`{events: [ReadEvent], subscriptionId?, eventStoreName?, deliveryId?, attempt?}`"),
    responses(
        (status = 200, description = "Applied (or already applied) to Redis", body = Processed),
        (status = 400, description = "Malformed body or event; nothing written", body = shared_domain::service::ErrorBody),
        (status = 401, description = "Wrong token, or bad/stale signature", body = shared_domain::service::ErrorBody),
        (status = 413, description = "Body over PROJECTION_MAX_BODY_BYTES", body = shared_domain::service::ErrorBody),
        (status = 415, description = "Content-Type is not JSON", body = shared_domain::service::ErrorBody),
        (status = 500, description = "Events are missing before this batch (MissingPredecessor)", body = shared_domain::service::ErrorBody),
        (status = 503, description = "Redis unavailable; retry", body = shared_domain::service::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_any_token(&req, state.auth_token.expose()).inspect_err(|_| {
        state.metrics.batch_failed("unauthorized");
    })?;
    let JsonBytes(body) = JsonBytes::from_request(&req, &mut payload.into_inner()).await?;
    if let Some(check) = &state.signature {
        check.verify(&req, &body).inspect_err(|_| {
            state.metrics.batch_failed("bad_signature");
        })?;
    }
    let delivery: WebhookDelivery = parse_json(&body).inspect_err(|_| {
        state.metrics.batch_failed("invalid");
    })?;
    tracing::debug!(
        events = delivery.events.len(),
        delivery_id = delivery.delivery_id.as_deref().unwrap_or(""),
        subscription_id = delivery.subscription_id.as_deref().unwrap_or(""),
        attempt = delivery.attempt.unwrap_or(0),
        "delivery received"
    );
    let started = Instant::now();
    match state.projector.apply(&delivery.events).await {
        Ok(report) => {
            state.metrics.batch_applied(&report, started.elapsed());
            Ok(HttpResponse::Ok().json(processed(delivery.events.len(), report)))
        }
        Err(error) => Err(api_error(&state, error)),
    }
}

fn processed(count: usize, report: ApplyReport) -> Processed {
    Processed {
        success: true,
        processed: count,
        applied: report.applied,
        duplicates: report.duplicates,
        skipped: report.skipped,
        checkpoint: report.checkpoint,
    }
}

/// The one place a projection failure becomes an HTTP answer.
fn api_error(state: &AppState, error: ProjectionError) -> ApiError {
    match error {
        ProjectionError::InvalidEvent { field, message, .. } => {
            state.metrics.batch_failed("invalid");
            ApiError::validation(field, message)
        }
        ProjectionError::MissingPredecessor {
            ref order_id,
            ref event_type,
            stream_position,
            global_position,
        } => {
            state.metrics.batch_failed("missing_predecessor");
            tracing::error!(%error, "delivery refused: events are missing");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "MissingPredecessor",
                error.to_string(),
                json!({
                    "orderId": order_id, "type": event_type,
                    "streamPosition": stream_position, "globalPosition": global_position,
                }),
            )
        }
        ProjectionError::InconsistentStream {
            ref order_id,
            stream_position,
            global_position,
        } => {
            state.metrics.batch_failed("inconsistent_stream");
            tracing::error!(%error, "delivery refused: inconsistent stream");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InconsistentStream",
                error.to_string(),
                json!({
                    "orderId": order_id, "streamPosition": stream_position,
                    "globalPosition": global_position,
                }),
            )
        }
        ProjectionError::Redis(ref cause) => {
            state.metrics.batch_failed("redis");
            tracing::warn!(error = %cause, "delivery failed: Redis unavailable");
            ApiError::unavailable(
                "the read-model store (Redis) is unavailable",
                RETRY_AFTER_SECS,
            )
        }
        ProjectionError::GenerationChurn => {
            state.metrics.batch_failed("generation_churn");
            ApiError::unavailable(
                "the read models are being switched; retry",
                RETRY_AFTER_SECS,
            )
        }
    }
}
