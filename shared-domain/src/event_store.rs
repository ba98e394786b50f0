//! The `EventStore` abstraction the decider machinery needs, and an in-memory implementation
//! (the toolkit has one too) for pure tests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use chrono::Utc;
use uuid::Uuid;

use crate::event::{Event, ExpectedStreamVersion, ReadEvent};
use crate::wire::{AppendResult, ReadStreamResult};

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the stream is not at the expected version.
    #[error("stream version conflict: expected {expected}, current {current}")]
    VersionConflict {
        expected: ExpectedStreamVersion,
        current: u64,
    },
    /// The store cannot be reached or is failing (time-out, refused, 5xx): try again later.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request (a 4xx other than a conflict).
    #[error("event store rejected the request ({status} {error}): {message}")]
    Rejected {
        status: u16,
        error: String,
        message: String,
    },
    /// The store answered something this client does not understand.
    #[error("unexpected answer from the event store: {0}")]
    Protocol(String),
}

/// Options of an append through the trait.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppendOptions {
    pub expected_stream_version: ExpectedStreamVersion,
    pub idempotency_key: Option<String>,
}

/// What the command side needs from an event store: read one stream, append to one stream.
pub trait EventStore: Send + Sync {
    /// All events of a stream in order; a missing stream is empty with version 0.
    fn read_stream(
        &self,
        stream_id: &str,
    ) -> impl Future<Output = Result<ReadStreamResult, StoreError>> + Send;

    /// Appends atomically, checking the expected version.
    fn append_to_stream(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> impl Future<Output = Result<AppendResult, StoreError>> + Send;
}

impl<T: EventStore> EventStore for &T {
    fn read_stream(
        &self,
        stream_id: &str,
    ) -> impl Future<Output = Result<ReadStreamResult, StoreError>> + Send {
        (**self).read_stream(stream_id)
    }

    fn append_to_stream(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> impl Future<Output = Result<AppendResult, StoreError>> + Send {
        (**self).append_to_stream(stream_id, events, options)
    }
}

#[derive(Default)]
struct Inner {
    streams: HashMap<String, Vec<ReadEvent>>,
    global_position: u64,
    idempotent_results: HashMap<(String, String), AppendResult>,
}

/// An [`InMemoryEventStore`] that counts the stream reads reaching it, for tests that show a path
/// reads nothing (or once).
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
pub struct CountingReads {
    /// The store underneath, for assertions on what was written.
    pub inner: InMemoryEventStore,
    reads: std::sync::atomic::AtomicU32,
}

#[cfg(any(test, feature = "testing"))]
impl CountingReads {
    /// Stream reads so far.
    pub fn reads(&self) -> u32 {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(any(test, feature = "testing"))]
impl EventStore for CountingReads {
    async fn read_stream(&self, stream_id: &str) -> Result<ReadStreamResult, StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.read_stream(stream_id).await
    }

    async fn append_to_stream(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> Result<AppendResult, StoreError> {
        self.inner
            .append_to_stream(stream_id, events, options)
            .await
    }
}

/// An event store in memory: the same concurrency and idempotency rules as the real one.
#[derive(Default)]
pub struct InMemoryEventStore {
    inner: Mutex<Inner>,
}

impl InMemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event of every stream in global order (for assertions).
    pub fn all_events(&self) -> Vec<ReadEvent> {
        let inner = self.lock();
        let mut all: Vec<ReadEvent> = inner.streams.values().flatten().cloned().collect();
        all.sort_by_key(|e| e.global_position);
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another test thread panicked; the data is still consistent
        // because every mutation below completes before it can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append_now(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> Result<AppendResult, StoreError> {
        let mut inner = self.lock();
        if let Some(key) = &options.idempotency_key
            && let Some(done) = inner
                .idempotent_results
                .get(&(stream_id.to_owned(), key.clone()))
        {
            return Ok(done.clone());
        }
        let current = inner.streams.get(stream_id).map_or(0, |s| s.len() as u64);
        if !options.expected_stream_version.matches(current) {
            return Err(StoreError::VersionConflict {
                expected: options.expected_stream_version,
                current,
            });
        }
        let transaction_id = Uuid::new_v4().to_string();
        let now = Utc::now();
        let mut appended = Vec::with_capacity(events.len());
        for (i, event) in events.into_iter().enumerate() {
            inner.global_position += 1;
            appended.push(ReadEvent {
                stream_id: stream_id.to_owned(),
                stream_position: current + i as u64 + 1,
                global_position: inner.global_position,
                event_id: event.event_id.unwrap_or_else(Uuid::new_v4),
                event_type: event.event_type,
                data: event.data,
                metadata: event.metadata,
                schema_version: event.schema_version.unwrap_or(1),
                transaction_id: transaction_id.clone(),
                created_at: now,
            });
        }
        let version = current + appended.len() as u64;
        let result = AppendResult {
            stream_id: stream_id.to_owned(),
            created_new_stream: current == 0 && !appended.is_empty(),
            events_appended: appended.len() as u64,
            current_stream_version: version,
            next_expected_stream_version: version,
            global_position: appended.last().map_or(0, |e| e.global_position),
            events: appended.clone(),
        };
        inner
            .streams
            .entry(stream_id.to_owned())
            .or_default()
            .extend(appended);
        if let Some(key) = options.idempotency_key {
            inner
                .idempotent_results
                .insert((stream_id.to_owned(), key), result.clone());
        }
        Ok(result)
    }
}

impl EventStore for InMemoryEventStore {
    async fn read_stream(&self, stream_id: &str) -> Result<ReadStreamResult, StoreError> {
        let inner = self.lock();
        let events = inner.streams.get(stream_id).cloned().unwrap_or_default();
        Ok(ReadStreamResult {
            current_stream_version: events.len() as u64,
            events,
        })
    }

    async fn append_to_stream(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> Result<AppendResult, StoreError> {
        self.append_now(stream_id, events, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(expected: ExpectedStreamVersion) -> AppendOptions {
        AppendOptions {
            expected_stream_version: expected,
            idempotency_key: None,
        }
    }

    #[tokio::test]
    async fn appends_number_positions_from_one() {
        let store = InMemoryEventStore::new();
        let events = vec![Event::new("a.x", json!({})), Event::new("a.y", json!({}))];
        let r = store
            .append_to_stream("s-1", events, opts(ExpectedStreamVersion::NoStream))
            .await
            .unwrap();
        assert_eq!(r.current_stream_version, 2);
        assert!(r.created_new_stream);
        assert_eq!(r.events[0].stream_position, 1);
        assert_eq!(r.events[1].global_position, 2);
    }

    #[tokio::test]
    async fn stale_expected_version_is_a_conflict() {
        let store = InMemoryEventStore::new();
        let one = || vec![Event::new("a.x", json!({}))];
        store
            .append_to_stream("s", one(), opts(ExpectedStreamVersion::Any))
            .await
            .unwrap();
        let err = store
            .append_to_stream("s", one(), opts(ExpectedStreamVersion::NoStream))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            StoreError::VersionConflict {
                expected: ExpectedStreamVersion::NoStream,
                current: 1
            }
        );
    }

    #[tokio::test]
    async fn same_idempotency_key_returns_the_first_result() {
        let store = InMemoryEventStore::new();
        let options = AppendOptions {
            expected_stream_version: ExpectedStreamVersion::Any,
            idempotency_key: Some("k1".into()),
        };
        let first = store
            .append_to_stream("s", vec![Event::new("a.x", json!({}))], options.clone())
            .await
            .unwrap();
        let again = store
            .append_to_stream("s", vec![Event::new("a.x", json!({}))], options)
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(store.all_events().len(), 1);
    }
}
