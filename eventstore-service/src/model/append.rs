//! An append request turned into a [`ValidAppend`] at the edge: every limit checked, event ids
//! and the idempotency fingerprint settled, so the writer never sees unchecked input.

use std::collections::HashSet;

use serde_json::Value;
use sha2::{Digest, Sha256};
use shared_domain::event::ExpectedStreamVersion;
use shared_domain::service::ApiError;
use shared_domain::wire::AppendRequest;
use uuid::Uuid;

use super::names::{EventType, IdempotencyKey, StreamId};

/// One event to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The client's id, or a fresh one.
    pub event_id: Uuid,
    /// Whether the client chose `event_id` (only those can be stored already).
    pub client_chosen_id: bool,
    pub event_type: EventType,
    /// Always a JSON object.
    pub data: Value,
    /// A JSON object, or `None`.
    pub metadata: Option<Value>,
    /// ≥ 1 (default 1).
    pub schema_version: u32,
}

/// The idempotency key of an append and the fingerprint of what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    /// SHA-256 (hex) of the events and expected version as sent.
    pub request_hash: String,
}

/// A checked append.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAppend {
    pub stream_id: StreamId,
    /// Never empty, never more than the configured limit.
    pub events: Vec<NewEvent>,
    pub expected: ExpectedStreamVersion,
    pub idempotency: Option<Idempotency>,
    /// Whether every event carried a client-chosen `eventId` (then a retry with the same ids is
    /// recognised even without an idempotency key).
    pub client_event_ids: bool,
    /// Size of the stored JSON (data and metadata), for the store's statistics.
    pub payload_bytes: u64,
}

impl ValidAppend {
    /// Checks `request` for `stream_id`. `header_key` is the `Idempotency-Key` header, if any.
    /// Every error is a 400 naming the offending field.
    pub fn parse(
        stream_id: StreamId,
        request: AppendRequest,
        header_key: Option<&str>,
        max_events: usize,
    ) -> Result<Self, ApiError> {
        let expected = request.effective_expected_version();
        let idempotency = idempotency(&request, header_key, expected)?;
        if request.events.is_empty() {
            return Err(ApiError::validation(
                "events",
                "events must hold at least one event",
            ));
        }
        if request.events.len() > max_events {
            return Err(ApiError::validation(
                "events",
                format!(
                    "an append may hold at most {max_events} events; got {}",
                    request.events.len()
                ),
            )
            .with_details(serde_json::json!({"field": "events", "limit": max_events})));
        }
        let client_event_ids = request.events.iter().all(|e| e.event_id.is_some());
        let mut seen_ids = HashSet::new();
        let mut payload_bytes = 0u64;
        let mut events = Vec::with_capacity(request.events.len());
        for (i, event) in request.events.into_iter().enumerate() {
            let field = |name: &str| format!("events[{i}].{name}");
            let event_type = EventType::parse(&event.event_type).map_err(|m| {
                ApiError::validation(field("type"), format!("{}: {m}", field("type")))
            })?;
            check_json(&event.data, &field("data"), true)?;
            let metadata = match event.metadata {
                None | Some(Value::Null) => None,
                Some(metadata) => {
                    check_json(&metadata, &field("metadata"), true)?;
                    Some(metadata)
                }
            };
            let schema_version = event.schema_version.unwrap_or(1);
            if schema_version == 0 {
                return Err(ApiError::validation(
                    field("schemaVersion"),
                    format!("{}: must be at least 1", field("schemaVersion")),
                ));
            }
            let client_chosen_id = event.event_id.is_some();
            let event_id = event.event_id.unwrap_or_else(Uuid::now_v7);
            if !seen_ids.insert(event_id) {
                return Err(ApiError::validation(
                    field("eventId"),
                    format!(
                        "{}: {event_id} appears twice in this append",
                        field("eventId")
                    ),
                ));
            }
            payload_bytes += json_len(&event.data) + metadata.as_ref().map_or(0, json_len);
            events.push(NewEvent {
                event_id,
                client_chosen_id,
                event_type,
                data: event.data,
                metadata,
                schema_version,
            });
        }
        Ok(Self {
            stream_id,
            events,
            expected,
            idempotency,
            client_event_ids,
            payload_bytes,
        })
    }
}

/// The key from the body or the header (they must agree), with the request's fingerprint.
fn idempotency(
    request: &AppendRequest,
    header_key: Option<&str>,
    expected: ExpectedStreamVersion,
) -> Result<Option<Idempotency>, ApiError> {
    let body_key = request.effective_idempotency_key();
    let text = match (body_key, header_key) {
        (Some(body), Some(header)) if body != header => {
            return Err(ApiError::validation(
                "idempotencyKey",
                "idempotencyKey in the body and the Idempotency-Key header differ",
            ));
        }
        (Some(key), _) | (None, Some(key)) => key,
        (None, None) => return Ok(None),
    };
    let key = IdempotencyKey::parse(text)
        .map_err(|m| ApiError::validation("idempotencyKey", format!("idempotencyKey: {m}")))?;
    // serde_json's maps are ordered by key, so equal requests hash equally whatever the order of
    // their fields on the wire.
    let fingerprint =
        serde_json::to_vec(&(&request.events, expected.to_string())).map_err(ApiError::internal)?;
    let request_hash = format!("{:x}", Sha256::digest(&fingerprint));
    Ok(Some(Idempotency { key, request_hash }))
}

/// `value` must be an object (when `object` is set) and hold no `\u0000` in any string or key:
/// PostgreSQL's `jsonb` cannot store that character.
fn check_json(value: &Value, field: &str, object: bool) -> Result<(), ApiError> {
    if object && !value.is_object() {
        return Err(ApiError::validation(
            field,
            format!("{field}: must be a JSON object, got {}", kind(value)),
        ));
    }
    if holds_nul(value) {
        return Err(ApiError::validation(
            field,
            format!("{field}: strings must not contain the NUL character (\\u0000)"),
        ));
    }
    Ok(())
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_len(value: &Value) -> u64 {
    serde_json::to_vec(value).map_or(0, |v| v.len() as u64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(body: Value, header: Option<&str>) -> Result<ValidAppend, ApiError> {
        let request: AppendRequest = serde_json::from_value(body).unwrap();
        ValidAppend::parse(StreamId::parse("s-1").unwrap(), request, header, 3)
    }

    fn field_of(error: &ApiError) -> String {
        error.details()["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn a_plain_append_gets_ids_and_defaults() {
        let append = parse(json!({"events": [{"type": "a.b", "data": {"x": 1}}]}), None).unwrap();
        assert_eq!(append.events[0].schema_version, 1);
        assert_eq!(append.expected, ExpectedStreamVersion::Any);
        assert!(!append.client_event_ids);
        assert!(append.idempotency.is_none());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"events": []}), "events"),
            (
                json!({"events": [{"type": "a b", "data": {}}]}),
                "events[0].type",
            ),
            (
                json!({"events": [{"type": "a", "data": [1]}]}),
                "events[0].data",
            ),
            (
                json!({"events": [{"type": "a", "data": {}, "metadata": 3}]}),
                "events[0].metadata",
            ),
            (
                json!({"events": [{"type": "a", "data": {"k": "a\u{0}"}}]}),
                "events[0].data",
            ),
            (
                json!({"events": [{"type": "a", "data": {}, "schemaVersion": 0}]}),
                "events[0].schemaVersion",
            ),
            (
                json!({"events": vec![json!({"type": "a", "data": {}}); 4]}),
                "events",
            ),
        ];
        for (body, field) in cases {
            let error = parse(body.clone(), None).unwrap_err();
            assert_eq!(error.status(), 400, "{body}");
            assert_eq!(field_of(&error), field, "{body}");
        }
    }

    #[test]
    fn duplicate_event_ids_in_one_append_are_refused() {
        let id = Uuid::new_v4();
        let body = json!({"events": [
            {"type": "a", "data": {}, "eventId": id},
            {"type": "a", "data": {}, "eventId": id},
        ]});
        assert_eq!(
            field_of(&parse(body, None).unwrap_err()),
            "events[1].eventId"
        );
    }

    #[test]
    fn header_and_body_keys_must_agree() {
        let body = json!({"events": [{"type": "a", "data": {}}], "idempotencyKey": "k1"});
        assert!(parse(body.clone(), Some("k1")).is_ok());
        assert_eq!(
            field_of(&parse(body, Some("k2")).unwrap_err()),
            "idempotencyKey"
        );
    }

    #[test]
    fn the_fingerprint_ignores_field_order_but_not_content() {
        let a = parse(
            json!({"events": [{"type": "a", "data": {"x": 1, "y": 2}}], "idempotencyKey": "k"}),
            None,
        )
        .unwrap();
        let b = parse(
            json!({"events": [{"data": {"y": 2, "x": 1}, "type": "a"}], "idempotencyKey": "k"}),
            None,
        )
        .unwrap();
        let c = parse(
            json!({"events": [{"type": "a", "data": {"x": 2, "y": 2}}], "idempotencyKey": "k"}),
            None,
        )
        .unwrap();
        let hash = |v: &ValidAppend| v.idempotency.as_ref().unwrap().request_hash.clone();
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
    }
}
