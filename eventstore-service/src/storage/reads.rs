//! Reading events: one stream, and all of a store in global order.
//!
//! Each read is ONE statement, so it sees one snapshot: the events and the version (or the
//! store's counter) it reports agree. Read-all is gap-free because positions are assigned under
//! the counter row lock in commit order (see `writer`): when a snapshot shows the counter at C,
//! every event up to C is committed and visible in it, and none below C can appear later.

use deadpool_postgres::Pool;
use shared_domain::event::ReadEvent;
use shared_domain::wire::Direction;
use tokio_postgres::types::ToSql;

use super::rows::{EVENT_COLUMNS, read_event, to_i64, to_u64};
use crate::error::StoreError;
use crate::model::{StoreName, StreamId};

/// Most positions a filtered read-all scans per request, so a rare type cannot make one request
/// walk the whole store; the answer's `nextGlobalPosition` continues after the scanned window.
pub const FILTER_SCAN_WINDOW: u64 = 10_000;

/// Which part of a stream to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRange {
    pub direction: Direction,
    /// First position read (forward: lowest, backward: highest); `None`: the stream's start
    /// (forward) or end (backward).
    pub from: Option<u64>,
    /// Last position read, inclusive; `None`: no bound.
    pub to: Option<u64>,
    pub limit: u32,
}

/// The events of a stream in `range` and the stream's current version (0 when missing).
pub async fn read_stream(
    pool: &Pool,
    store: &StoreName,
    stream: &StreamId,
    range: StreamRange,
) -> Result<(Vec<ReadEvent>, u64), StoreError> {
    let (low, high, order) = match range.direction {
        Direction::Forward => (range.from.unwrap_or(1), range.to.unwrap_or(u64::MAX), "ASC"),
        Direction::Backward => (
            range.to.unwrap_or(1),
            range.from.unwrap_or(u64::MAX),
            "DESC",
        ),
    };
    let sql = format!(
        "SELECT st.version, {EVENT_COLUMNS} \
         FROM (SELECT e.id, COALESCE(s.version, 0) AS version FROM event_stores e \
               LEFT JOIN streams s ON s.store_id = e.id AND s.stream_id = $2 \
               WHERE e.name = $1) st \
         LEFT JOIN LATERAL (SELECT * FROM events x WHERE x.store_id = st.id AND x.stream_id = $2 \
               AND x.stream_position BETWEEN $3 AND $4 \
               ORDER BY x.stream_position {order} LIMIT $5) v ON true"
    );
    let client = pool.get().await.map_err(|e| StoreError::from_pool(&e))?;
    let statement = client
        .prepare_cached(&sql)
        .await
        .map_err(|e| StoreError::from_db(&e))?;
    let rows = client
        .query(
            &statement,
            &[
                &store.as_str(),
                &stream.as_str(),
                &to_i64(low),
                &to_i64(high),
                &i64::from(range.limit),
            ],
        )
        .await
        .map_err(|e| StoreError::from_db(&e))?;
    let Some(first) = rows.first() else {
        return Err(StoreError::StoreNotFound(store.to_string()));
    };
    let version = to_u64(first.try_get(0).map_err(|e| StoreError::from_db(&e))?);
    let events = events_from(&rows)?;
    Ok((events, version))
}

/// A page of read-all.
#[derive(Debug, Clone, PartialEq)]
pub struct AllPage {
    pub events: Vec<ReadEvent>,
    /// Where the next read continues (inclusive).
    pub next_global_position: u64,
}

/// Which store a read-all addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreRef<'a> {
    /// By name (the HTTP API).
    Name(&'a str),
    /// By `event_stores.id` (background tasks that resolved it once).
    Id(i32),
}

/// Events of `store` from global position `from` (inclusive), at most `limit`, of the types
/// `like_patterns` matches (SQL `LIKE`, `\` escapes, as `EventFilter::sql_like_patterns` makes
/// them; `None`: all types).
pub async fn read_all(
    pool: &Pool,
    store: &StoreName,
    from: u64,
    limit: u32,
    like_patterns: Option<&[String]>,
) -> Result<AllPage, StoreError> {
    let client = pool.get().await.map_err(|e| StoreError::from_pool(&e))?;
    read_all_with(
        &client,
        StoreRef::Name(store.as_str()),
        from,
        limit,
        like_patterns,
    )
    .await
}

/// [`read_all`] on a connection the caller holds (subscription delivery).
pub async fn read_all_with(
    client: &deadpool_postgres::Client,
    store: StoreRef<'_>,
    from: u64,
    limit: u32,
    like_patterns: Option<&[String]>,
) -> Result<AllPage, StoreError> {
    let from = from.max(1);
    // Unfiltered, a page ends at `limit` events; filtered, also at the scan window.
    let upper = match like_patterns {
        None => u64::MAX,
        Some(_) => from.saturating_add(FILTER_SCAN_WINDOW - 1),
    };
    let type_condition = match like_patterns {
        None => "",
        Some(_) => "AND x.type LIKE ANY($5)",
    };
    let store_condition = match store {
        StoreRef::Name(_) => "name = $1",
        StoreRef::Id(_) => "id = $1",
    };
    let sql = format!(
        "SELECT st.counter, {EVENT_COLUMNS} \
         FROM (SELECT id, counter FROM event_stores WHERE {store_condition}) st \
         LEFT JOIN LATERAL (SELECT * FROM events x WHERE x.store_id = st.id \
               AND x.global_position BETWEEN $2 AND $3 {type_condition} \
               ORDER BY x.global_position LIMIT $4) v ON true"
    );
    let statement = client
        .prepare_cached(&sql)
        .await
        .map_err(|e| StoreError::from_db(&e))?;
    let (name, id) = match store {
        StoreRef::Name(name) => (name, 0),
        StoreRef::Id(id) => ("", id),
    };
    let store_param: &(dyn ToSql + Sync) = match store {
        StoreRef::Name(_) => &name,
        StoreRef::Id(_) => &id,
    };
    let (low, high, limit_param) = (to_i64(from), to_i64(upper), i64::from(limit));
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![store_param, &low, &high, &limit_param];
    if let Some(patterns) = &like_patterns {
        params.push(patterns);
    }
    let rows = client
        .query(&statement, &params)
        .await
        .map_err(|e| StoreError::from_db(&e))?;
    let Some(first) = rows.first() else {
        return Err(StoreError::StoreNotFound(match store {
            StoreRef::Name(name) => name.to_owned(),
            StoreRef::Id(id) => format!("#{id}"),
        }));
    };
    let counter = to_u64(first.try_get(0).map_err(|e| StoreError::from_db(&e))?);
    let events = events_from(&rows)?;
    let next_global_position = match events.last() {
        Some(last) if events.len() == limit as usize => last.global_position + 1,
        // Everything up to the scanned end (the counter, or the window) was read.
        _ => from.max(counter.min(upper).saturating_add(1)),
    };
    Ok(AllPage {
        events,
        next_global_position,
    })
}

fn events_from(rows: &[tokio_postgres::Row]) -> Result<Vec<ReadEvent>, StoreError> {
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(event) = read_event(row, 1).map_err(|e| StoreError::from_db(&e))? {
            events.push(event);
        }
    }
    Ok(events)
}
