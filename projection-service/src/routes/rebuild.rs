//! `POST /api/projections/orders/rebuild` (admin token): starts a rebuild in the background and
//! answers 202 with the generation being built; progress is on the status route.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use shared_domain::service::auth::require_any_token;
use shared_domain::service::{ApiError, TraceContext};

use super::AppState;
use crate::rebuild::RebuildError;

/// The answer to a started rebuild.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RebuildStarted {
    /// `running`.
    pub state: &'static str,
    /// The generation being built.
    pub generation: String,
    /// Where to follow it.
    pub status_url: &'static str,
}

/// Rebuild the read models from the event store.
#[utoipa::path(
    post,
    path = "/api/projections/orders/rebuild",
    tag = "projection",
    responses(
        (status = 202, description = "Rebuild started", body = RebuildStarted),
        (status = 401, description = "Missing or wrong admin token", body = shared_domain::service::ErrorBody),
        (status = 403, description = "PROJECTION_ADMIN_TOKEN is not set: rebuild over HTTP is off", body = shared_domain::service::ErrorBody),
        (status = 409, description = "A rebuild is already running", body = shared_domain::service::ErrorBody),
        (status = 503, description = "Redis unavailable", body = shared_domain::service::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    trace: TraceContext,
) -> Result<HttpResponse, ApiError> {
    let Some(admin_token) = &state.admin_token else {
        return Err(ApiError::forbidden(
            "rebuild over HTTP is disabled: set PROJECTION_ADMIN_TOKEN, or run the `rebuild` subcommand",
        ));
    };
    require_any_token(&req, admin_token.expose())?;
    let run = state.rebuilder.start().await.map_err(|error| match error {
        RebuildError::AlreadyRunning => ApiError::conflict(
            "RebuildInProgress",
            "a rebuild is already running; follow it at GET /api/projections/orders/status",
            serde_json::Value::Null,
        ),
        other => {
            tracing::warn!(error = %other, "cannot start a rebuild");
            ApiError::unavailable("the read-model store (Redis) is unavailable", 1)
        }
    })?;
    // The run outlives the request but stays in its trace (logs, calls to the event store).
    let run = run.with_trace(trace);
    let generation = run.generation().to_owned();
    let cancel = state.shutdown.token();
    tokio::spawn(async move {
        // The outcome is logged and recorded in the status by `run` itself.
        let _ = run.run(cancel).await;
    });
    Ok(HttpResponse::Accepted().json(RebuildStarted {
        state: "running",
        generation,
        status_url: "/api/projections/orders/status",
    }))
}
