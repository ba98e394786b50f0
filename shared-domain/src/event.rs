//! The toolkit's core value types: events as they are written and as they are read back,
//! commands, and the expected stream version of an append.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

/// An event to append: what happened (`type`), its payload (`data`, a JSON object) and optional
/// `metadata` (correlation, causation, trace context). `schemaVersion` and `eventId` are optional
/// on the way in; the store fills them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// A client-chosen id; appending an event whose id is already stored is an idempotent retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
}

impl Event {
    /// An event with a type and data, nothing else.
    pub fn new(event_type: impl Into<String>, data: Value) -> Self {
        Self {
            event_type: event_type.into(),
            data,
            metadata: None,
            schema_version: None,
            event_id: None,
        }
    }

    /// The same event with `metadata` set.
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// A command: what someone wants to do (`type`), with its `data`. Commands can be rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command<D = Value> {
    #[serde(rename = "type")]
    pub command_type: String,
    pub data: D,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// An event as the store hands it back, with its place in the stream and in the store.
///
/// `streamPosition` counts from 1 inside a stream; `globalPosition` counts from 1 across a store
/// and never repeats (DESIGN.md, "Positions").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadEvent<D = Value> {
    pub stream_id: String,
    pub stream_position: u64,
    pub global_position: u64,
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: D,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default = "default_schema_version")]
    pub schema_version: u32,
    pub transaction_id: String,
    pub created_at: DateTime<Utc>,
}

fn default_schema_version() -> u32 {
    1
}

/// What the writer believes the stream's version is; the append fails with a conflict otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpectedStreamVersion {
    /// No check at all (the default).
    #[default]
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must exist (version ≥ 1).
    StreamExists,
    /// The stream's version must be exactly this; `Exact(0)` is the same as `NoStream`.
    Exact(u64),
}

impl ExpectedStreamVersion {
    /// Whether a stream whose version is `current` satisfies this expectation.
    pub fn matches(self, current: u64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => current == 0,
            Self::StreamExists => current > 0,
            Self::Exact(v) => v == current,
        }
    }

    /// The expectation that pins a stream to the version a reader saw.
    pub fn from_observed(version: u64) -> Self {
        if version == 0 {
            Self::NoStream
        } else {
            Self::Exact(version)
        }
    }
}

impl std::fmt::Display for ExpectedStreamVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no_stream"),
            Self::StreamExists => f.write_str("stream_exists"),
            Self::Exact(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for ExpectedStreamVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Exact(v) => serializer.serialize_u64(*v),
            other => serializer.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for ExpectedStreamVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ExpectedStreamVersion;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"a non-negative integer, "any", "no_stream" or "stream_exists""#)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ExpectedStreamVersion::Exact(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(ExpectedStreamVersion::Exact)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "any" => Ok(ExpectedStreamVersion::Any),
                    "no_stream" => Ok(ExpectedStreamVersion::NoStream),
                    "stream_exists" => Ok(ExpectedStreamVersion::StreamExists),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_round_trips_through_json() {
        for (json, value) in [
            ("\"any\"", ExpectedStreamVersion::Any),
            ("\"no_stream\"", ExpectedStreamVersion::NoStream),
            ("\"stream_exists\"", ExpectedStreamVersion::StreamExists),
            ("7", ExpectedStreamVersion::Exact(7)),
        ] {
            let parsed: ExpectedStreamVersion = serde_json::from_str(json).unwrap();
            assert_eq!(parsed, value);
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
        }
    }

    #[test]
    fn expected_version_rejects_negative_and_unknown() {
        assert!(serde_json::from_str::<ExpectedStreamVersion>("-1").is_err());
        assert!(serde_json::from_str::<ExpectedStreamVersion>("\"latest\"").is_err());
        assert!(serde_json::from_str::<ExpectedStreamVersion>("1.5").is_err());
    }

    #[test]
    fn expected_version_matching_rules() {
        assert!(ExpectedStreamVersion::Any.matches(0));
        assert!(ExpectedStreamVersion::NoStream.matches(0));
        assert!(!ExpectedStreamVersion::NoStream.matches(1));
        assert!(!ExpectedStreamVersion::StreamExists.matches(0));
        assert!(ExpectedStreamVersion::StreamExists.matches(3));
        assert!(ExpectedStreamVersion::Exact(3).matches(3));
        assert!(!ExpectedStreamVersion::Exact(2).matches(3));
        assert!(ExpectedStreamVersion::Exact(0).matches(0));
    }
}
