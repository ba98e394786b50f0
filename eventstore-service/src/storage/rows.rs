//! Rows of the `events` table as [`ReadEvent`]s: the one column list and the one conversion.

use shared_domain::event::ReadEvent;
use tokio_postgres::Row;

/// The columns of a [`ReadEvent`], in the order [`read_event`] expects, for `events` aliased `v`.
pub const EVENT_COLUMNS: &str = "v.stream_id, v.stream_position, v.global_position, v.event_id, \
     v.type, v.data, v.metadata, v.schema_version, v.transaction_id, v.created_at";

/// The event in `row` starting at column `at` (laid out as [`EVENT_COLUMNS`]); `None` when those
/// columns are NULL (the empty side of a LEFT JOIN).
pub fn read_event(row: &Row, at: usize) -> Result<Option<ReadEvent>, tokio_postgres::Error> {
    let Some(stream_id) = row.try_get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(ReadEvent {
        stream_id,
        stream_position: to_u64(row.try_get(at + 1)?),
        global_position: to_u64(row.try_get(at + 2)?),
        event_id: row.try_get(at + 3)?,
        event_type: row.try_get(at + 4)?,
        data: row.try_get(at + 5)?,
        metadata: row.try_get(at + 6)?,
        schema_version: u32::try_from(row.try_get::<_, i32>(at + 7)?).unwrap_or(1),
        transaction_id: row.try_get::<_, uuid::Uuid>(at + 8)?.to_string(),
        created_at: row.try_get(at + 9)?,
    }))
}

/// A stored non-negative BIGINT as u64 (the schema's CHECKs keep them non-negative).
pub fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A position or count as BIGINT, saturating (no store reaches 2^63 events).
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
