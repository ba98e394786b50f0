//! `GET /api/projections/orders/status`: where the projection stands — the live generation, its
//! checkpoint (last global position applied), the lag behind the store when the store answers,
//! and the last rebuild's progress.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use shared_domain::service::{ApiError, TraceContext};
use shared_domain::wire::MAX_PAGE_SIZE;

use super::AppState;

/// How long the status waits for the store before leaving the lag out.
const LAG_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The status answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionStatus {
    /// The read-model namespace.
    pub namespace: String,
    /// The generation queries read.
    pub generation: String,
    /// Last global position applied to it (0 = none).
    pub checkpoint: u64,
    /// The store's side: lag, or why it is unknown.
    pub store: StoreLag,
    /// The last rebuild (`state`: running, completed or failed), if any ran.
    #[schema(value_type = Option<Object>)]
    pub rebuild: Option<serde_json::Value>,
}

/// How far the projection is behind the store.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreLag {
    pub name: String,
    /// Events in the store after the checkpoint (counted up to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    /// `true` when there are at least `lag` (1000) events, maybe more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_is_lower_bound: Option<bool>,
    /// Global position of the store's newest event, when within the counted window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_position: Option<u64>,
    /// Why the lag is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the projection stands.
#[utoipa::path(
    get,
    path = "/api/projections/orders/status",
    tag = "projection",
    responses(
        (status = 200, description = "Checkpoint, lag, generation, rebuild", body = ProjectionStatus),
        (status = 503, description = "Redis unavailable", body = shared_domain::service::ErrorBody),
    )
)]
pub async fn status(
    state: web::Data<AppState>,
    trace: TraceContext,
) -> Result<HttpResponse, ApiError> {
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "status: Redis unavailable");
        ApiError::unavailable("the read-model store (Redis) is unavailable", 1)
    };
    let generation = state
        .projector
        .live_generation()
        .await
        .map_err(|e| unavailable(&e))?;
    let checkpoint = state
        .projector
        .checkpoint_of(&generation)
        .await
        .map_err(|e| unavailable(&e))?;
    let rebuild = state
        .rebuilder
        .status()
        .await
        .map_err(|e| unavailable(&e))?;
    let store = lag(&state, checkpoint, &trace).await;
    Ok(HttpResponse::Ok().json(ProjectionStatus {
        namespace: state.namespace.clone(),
        generation,
        checkpoint,
        store,
        rebuild,
    }))
}

/// Counts the store's events after `checkpoint` with one read-all page.
async fn lag(state: &AppState, checkpoint: u64, trace: &TraceContext) -> StoreLag {
    let probe = state
        .rebuilder
        .source()
        .read_all_traced(checkpoint + 1, MAX_PAGE_SIZE, trace);
    let mut lag = StoreLag {
        name: state.store_name.clone(),
        lag: None,
        lag_is_lower_bound: None,
        head_position: None,
        error: None,
    };
    match tokio::time::timeout(LAG_PROBE_TIMEOUT, probe).await {
        Ok(Ok(page)) => {
            let count = page.events.len() as u64;
            let full = count >= u64::from(MAX_PAGE_SIZE);
            lag.lag = Some(count);
            lag.lag_is_lower_bound = Some(full);
            if !full {
                lag.head_position =
                    Some(page.events.last().map_or(checkpoint, |e| e.global_position));
            }
        }
        Ok(Err(error)) => lag.error = Some(error.to_string()),
        Err(_) => lag.error = Some("the event store did not answer in time".to_owned()),
    }
    lag
}
