//! The JSON shapes of the event-store HTTP API (DESIGN.md, "Event store service"), shared by the
//! service that answers them and the clients that send them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, ExpectedStreamVersion, ReadEvent};

/// Largest page any list or read endpoint returns.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// `POST /api/event-stores/{store}/streams/{streamId}`.
///
/// `expectedStreamVersion` and `idempotencyKey` are accepted inside `options` (DeltaBase's shape)
/// and at the top level; `options` wins when both are given.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppendRequest {
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<AppendOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_stream_version: Option<ExpectedStreamVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl AppendRequest {
    /// The expected version in force: `options` first, then the top level, else `any`.
    pub fn effective_expected_version(&self) -> ExpectedStreamVersion {
        self.options
            .as_ref()
            .and_then(|o| o.expected_stream_version)
            .or(self.expected_stream_version)
            .unwrap_or_default()
    }

    /// The idempotency key in the body, if any (`options` first). The header is the caller's job.
    pub fn effective_idempotency_key(&self) -> Option<&str> {
        self.options
            .as_ref()
            .and_then(|o| o.idempotency_key.as_deref())
            .or(self.idempotency_key.as_deref())
    }
}

/// Options of an append.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppendOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_stream_version: Option<ExpectedStreamVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// 201 answer of an append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppendResult {
    pub stream_id: String,
    pub created_new_stream: bool,
    pub events_appended: u64,
    pub current_stream_version: u64,
    pub next_expected_stream_version: u64,
    /// Global position of the last appended event (0 when nothing was appended).
    pub global_position: u64,
    pub events: Vec<ReadEvent>,
}

/// Direction of a stream read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Forward,
    Backward,
}

/// Answer of `GET …/streams/{streamId}`; a missing stream is empty with version 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadStreamResult {
    pub events: Vec<ReadEvent>,
    pub current_stream_version: u64,
}

/// Answer of `GET …/events` (read all): continue from `nextGlobalPosition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadAllResult {
    pub events: Vec<ReadEvent>,
    pub next_global_position: u64,
}

/// `POST /api/event-stores`: create a named store.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateEventStoreRequest {
    /// `^[a-z0-9_-]{3,63}$`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form settings (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
}

/// An event store as `GET /api/event-stores[/{store}]` and `POST /api/event-stores` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventStoreInfo {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub settings: Value,
    pub created_at: DateTime<Utc>,
    pub statistics: EventStoreStatistics,
}

/// Statistics of one event store.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventStoreStatistics {
    /// Streams holding at least one event.
    pub streams: u64,
    /// Events stored (= the last global position: positions have no gaps).
    pub events: u64,
    /// Bytes of event data and metadata as JSON.
    pub bytes: u64,
    /// When the first event was stored.
    #[serde(default)]
    pub oldest_event_at: Option<DateTime<Utc>>,
    /// When the last event was stored.
    #[serde(default)]
    pub newest_event_at: Option<DateTime<Utc>>,
}

/// Answer of `GET /api/event-stores`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventStoreList {
    pub event_stores: Vec<EventStoreInfo>,
}

/// Every error answer of every service: `{"error", "message", "details"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The body of a webhook delivery. The walkthrough's projection route reads only `events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub events: Vec<ReadEvent>,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub event_store_name: Option<String>,
    #[serde(default)]
    pub delivery_id: Option<String>,
    #[serde(default)]
    pub attempt: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_win_over_top_level_fields() {
        let req: AppendRequest = serde_json::from_value(serde_json::json!({
            "events": [],
            "expectedStreamVersion": 3,
            "idempotencyKey": "top",
            "options": {"expectedStreamVersion": "no_stream", "idempotencyKey": "inner"}
        }))
        .unwrap();
        assert_eq!(
            req.effective_expected_version(),
            ExpectedStreamVersion::NoStream
        );
        assert_eq!(req.effective_idempotency_key(), Some("inner"));
    }

    #[test]
    fn top_level_fields_are_accepted() {
        let req: AppendRequest = serde_json::from_value(serde_json::json!({
            "events": [{"type": "a.b", "data": {}}],
            "expectedStreamVersion": "stream_exists"
        }))
        .unwrap();
        assert_eq!(
            req.effective_expected_version(),
            ExpectedStreamVersion::StreamExists
        );
        assert_eq!(req.effective_idempotency_key(), None);
    }

    #[test]
    fn expected_version_defaults_to_any() {
        let req: AppendRequest = serde_json::from_value(serde_json::json!({"events": []})).unwrap();
        assert_eq!(req.effective_expected_version(), ExpectedStreamVersion::Any);
    }
}
