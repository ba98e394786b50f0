//! Path and query parameters, parsed into checked types with 400s that name the parameter.

use serde::Deserialize;
use shared_domain::service::ApiError;
use shared_domain::wire::{Direction, MAX_PAGE_SIZE};

use crate::model::{StoreName, StreamId};

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u32 = 100;

/// The `{store}` path segment.
pub fn store_name(text: &str) -> Result<StoreName, ApiError> {
    StoreName::parse(text).map_err(|m| ApiError::validation("store", m))
}

/// The `{streamId}` path segment (already percent-decoded by the router).
pub fn stream_id(text: &str) -> Result<StreamId, ApiError> {
    StreamId::parse(text).map_err(|m| ApiError::validation("streamId", m))
}

/// `limit`: 1 to [`MAX_PAGE_SIZE`], default [`DEFAULT_LIMIT`].
pub fn limit(value: Option<u32>) -> Result<u32, ApiError> {
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::validation(
            "limit",
            format!("limit must be between 1 and {MAX_PAGE_SIZE}; got {n}"),
        )),
    }
}

/// Query of `GET …/streams/{streamId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadStreamQuery {
    #[serde(default)]
    pub direction: Direction,
    pub from_stream_position: Option<u64>,
    pub to_stream_position: Option<u64>,
    pub limit: Option<u32>,
}

/// Query of `GET …/events`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadAllQuery {
    pub from_global_position: Option<u64>,
    pub limit: Option<u32>,
    /// An event filter: comma-separated patterns (`order.*,*.cancelled,user.created`).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
}

/// Query of `DELETE /api/event-stores/{store}`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    pub confirm: bool,
}
