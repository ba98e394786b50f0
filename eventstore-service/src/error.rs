//! Why a store operation failed, and the one place where each reason becomes an HTTP answer.

use serde_json::json;
use shared_domain::event::ExpectedStreamVersion;
use shared_domain::service::ApiError;
use uuid::Uuid;

/// Seconds a client is told to wait after a 503.
const RETRY_AFTER_SECS: u64 = 1;

/// Why an append (or a read, or a store operation) did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No event store by that name.
    #[error("event store {0:?} does not exist")]
    StoreNotFound(String),
    /// Creating a store whose name is taken.
    #[error("event store {0:?} already exists")]
    StoreExists(String),
    /// Optimistic concurrency: the stream is not at the expected version.
    #[error("stream {stream_id:?} is at version {}, not {expected}", current.map_or("unknown".to_owned(), |c| c.to_string()))]
    VersionConflict {
        stream_id: String,
        expected: ExpectedStreamVersion,
        /// `None` when the conflict was detected only by the unique key (another replica won).
        current: Option<u64>,
    },
    /// The idempotency key was used before with a different request.
    #[error("idempotency key {key:?} was used before with a different request")]
    IdempotencyKeyReused { key: String },
    /// Some of the events' ids are stored already, but not as this same append.
    #[error("event {event_id} is already stored{where_}")]
    DuplicateEventId { event_id: Uuid, where_: String },
    /// PostgreSQL cannot be reached or timed out: the client should retry.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug, a schema mismatch): logged, answered as an opaque 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Maps a database error: connection trouble is `Unavailable`, the rest `Internal`.
    pub fn from_db(error: &tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) if !error.is_closed() => Self::Internal(format!(
                "{} ({}): {}",
                db.message(),
                db.code().code(),
                db.detail().unwrap_or_default()
            )),
            _ => Self::Unavailable(error.to_string()),
        }
    }

    /// Maps a pool error (no connection within the time-out, cannot connect).
    pub fn from_pool(error: &deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::StoreNotFound(_) => ApiError::not_found(error.to_string()),
            StoreError::StoreExists(name) => ApiError::conflict(
                "EventStoreAlreadyExists",
                error.to_string(),
                json!({ "name": name }),
            ),
            StoreError::VersionConflict {
                stream_id,
                expected,
                current,
            } => ApiError::conflict(
                "StreamVersionConflict",
                match current {
                    Some(_) => error.to_string(),
                    None => format!(
                        "stream {stream_id:?} changed concurrently; expected version {expected}"
                    ),
                },
                json!({
                    "streamId": stream_id,
                    "expectedVersion": expected,
                    "currentVersion": current,
                }),
            ),
            StoreError::IdempotencyKeyReused { key } => ApiError::unprocessable(
                "IdempotencyKeyReused",
                error.to_string(),
                json!({ "idempotencyKey": key }),
            ),
            StoreError::DuplicateEventId { event_id, .. } => ApiError::conflict(
                "DuplicateEventId",
                error.to_string(),
                json!({ "eventId": event_id }),
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                ApiError::unavailable("the event store database is unavailable", RETRY_AFTER_SECS)
            }
            StoreError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
