//! `GET …/streams/{streamId}` (one stream) and `GET …/events` (read all, in global order).

use actix_web::{HttpResponse, web};
use shared_domain::service::{ApiError, QueryParams};
use shared_domain::wire::{ReadAllResult, ReadStreamResult};

use super::params::{self, ReadAllQuery, ReadStreamQuery};
use crate::startup::AppState;
use crate::storage::reads::{self, StreamRange};
use crate::subscriptions::filter::EventFilter;

/// Reads a stream forward (default) or backward between `fromStreamPosition` and
/// `toStreamPosition` (inclusive), at most `limit` (default 100, at most 1000) events. A missing
/// stream is empty with version 0.
#[utoipa::path(get, path = "/api/event-stores/{store}/streams/{streamId}", tag = "streams",
    params(("store" = String, Path, description = "Store name"),
           ("streamId" = String, Path, description = "Stream id, percent-encoded"),
           ("direction" = Option<String>, Query, description = "`forward` (default) or `backward`"),
           ("fromStreamPosition" = Option<u64>, Query, description = "First position read (forward default 1; backward default the last)"),
           ("toStreamPosition" = Option<u64>, Query, description = "Last position read, inclusive"),
           ("limit" = Option<u32>, Query, description = "1..=1000, default 100")),
    responses(
        (status = 200, description = "`{events, currentStreamVersion}`", body = Object),
        (status = 404, description = "No such store", body = shared_domain::service::ErrorBody),
    ))]
pub async fn read_stream(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: QueryParams<ReadStreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let (store, stream) = path.into_inner();
    let store = params::store_name(&store)?;
    let stream = params::stream_id(&stream)?;
    let query = query.into_inner();
    let range = StreamRange {
        direction: query.direction,
        from: query.from_stream_position,
        to: query.to_stream_position,
        limit: params::limit(query.limit)?,
    };
    let (events, current_stream_version) =
        reads::read_stream(&state.pool, &store, &stream, range).await?;
    Ok(HttpResponse::Ok().json(ReadStreamResult {
        events,
        current_stream_version,
    }))
}

/// Reads the store in global order from `fromGlobalPosition` (inclusive, default 1), at most
/// `limit` events, optionally only the types a filter matches (`type=order.*,*.cancelled`).
/// Continue from `nextGlobalPosition`: no event below it can appear later.
#[utoipa::path(get, path = "/api/event-stores/{store}/events", tag = "streams",
    params(("store" = String, Path, description = "Store name"),
           ("fromGlobalPosition" = Option<u64>, Query, description = "Default 1"),
           ("limit" = Option<u32>, Query, description = "1..=1000, default 100"),
           ("type" = Option<String>, Query, description = "Event filter: comma-separated patterns (`*`, `ns.*`, `*.name`, exact)")),
    responses(
        (status = 200, description = "`{events, nextGlobalPosition}`", body = Object),
        (status = 404, description = "No such store", body = shared_domain::service::ErrorBody),
    ))]
pub async fn read_all(
    state: web::Data<AppState>,
    store: web::Path<String>,
    query: QueryParams<ReadAllQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = params::store_name(&store)?;
    let query = query.into_inner();
    let limit = params::limit(query.limit)?;
    let filter = match query.event_type.as_deref() {
        None => None,
        Some(text) => Some(
            EventFilter::parse_query(text)
                .map_err(|e| ApiError::validation("type", format!("type: {e}")))?,
        ),
    };
    let patterns = filter.as_ref().and_then(EventFilter::sql_like_patterns);
    let page = reads::read_all(
        &state.pool,
        &store,
        query.from_global_position.unwrap_or(1),
        limit,
        patterns.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ReadAllResult {
        events: page.events,
        next_global_position: page.next_global_position,
    }))
}
