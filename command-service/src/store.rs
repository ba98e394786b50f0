//! What the command service needs from its event store beyond the [`EventStore`] trait: a view of
//! the store that carries one request's trace context to every outbound call, and a readiness
//! probe. [`EventStoreClient`] implements it for production, [`InMemoryEventStore`] for tests.

use std::future::Future;
use std::sync::Mutex;

use shared_domain::client::EventStoreClient;
use shared_domain::event::Event;
use shared_domain::event_store::{AppendOptions, EventStore, InMemoryEventStore, StoreError};
use shared_domain::service::TraceContext;
use shared_domain::wire::{AppendResult, ReadStreamResult};

/// An event store the command service can run on.
pub trait CommandStore: Send + Sync + 'static {
    /// The store as seen by one request: its calls carry that request's `x-request-id` and
    /// `traceparent`.
    type Scoped<'a>: EventStore + 'a
    where
        Self: 'a;

    /// The view of the store for the request whose trace context is `trace`.
    fn scoped<'a>(&'a self, trace: &TraceContext) -> Self::Scoped<'a>;

    /// `Ok` when the store answers (readiness); bounded by the caller's time-out.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl CommandStore for EventStoreClient {
    /// A cheap clone that adds the trace headers to every call.
    type Scoped<'a> = EventStoreClient;

    fn scoped<'a>(&'a self, trace: &TraceContext) -> Self::Scoped<'a> {
        self.with_trace(trace)
    }

    /// Ready when the store answers for *our* store with *our* key: the service is up, the API
    /// key is accepted and the named store exists (a cheap lookup by name).
    async fn ping(&self) -> Result<(), StoreError> {
        self.get_store().await.map(|_| ())
    }
}

impl CommandStore for InMemoryEventStore {
    type Scoped<'a> = &'a InMemoryEventStore;

    fn scoped<'a>(&'a self, _trace: &TraceContext) -> Self::Scoped<'a> {
        self
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl<T: CommandStore> CommandStore for std::sync::Arc<T> {
    type Scoped<'a> = T::Scoped<'a>;

    fn scoped<'a>(&'a self, trace: &TraceContext) -> Self::Scoped<'a> {
        (**self).scoped(trace)
    }

    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).ping()
    }
}

/// A store whose first `read_stream` is answered from a read already made, so that a command
/// which had to read its stream before deciding (to look for an idempotency key or check
/// `If-Match`) does not read it twice. Later reads (conflict retries) go to the store.
pub struct Prefetched<'a, S> {
    store: &'a S,
    first_read: Mutex<Option<ReadStreamResult>>,
}

impl<'a, S: EventStore> Prefetched<'a, S> {
    /// `store`, with `first_read` (if any) served for the next read.
    pub fn new(store: &'a S, first_read: Option<ReadStreamResult>) -> Self {
        Self {
            store,
            first_read: Mutex::new(first_read),
        }
    }

    fn take_first_read(&self) -> Option<ReadStreamResult> {
        // Nothing can panic while the lock is held, so a poisoned lock still holds valid data.
        self.first_read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

impl<S: EventStore> EventStore for Prefetched<'_, S> {
    async fn read_stream(&self, stream_id: &str) -> Result<ReadStreamResult, StoreError> {
        match self.take_first_read() {
            Some(read) => Ok(read),
            None => self.store.read_stream(stream_id).await,
        }
    }

    async fn append_to_stream(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> Result<AppendResult, StoreError> {
        self.store
            .append_to_stream(stream_id, events, options)
            .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared_domain::event::ExpectedStreamVersion;

    use super::*;

    #[tokio::test]
    async fn first_read_is_served_from_the_prefetch_then_from_the_store() {
        let store = InMemoryEventStore::new();
        let stale = store.read_stream("s").await.unwrap();
        store
            .append_to_stream(
                "s",
                vec![Event::new("a.b", json!({}))],
                AppendOptions {
                    expected_stream_version: ExpectedStreamVersion::NoStream,
                    idempotency_key: None,
                },
            )
            .await
            .unwrap();
        let prefetched = Prefetched::new(&store, Some(stale));

        assert_eq!(
            prefetched
                .read_stream("s")
                .await
                .unwrap()
                .current_stream_version,
            0
        );
        assert_eq!(
            prefetched
                .read_stream("s")
                .await
                .unwrap()
                .current_stream_version,
            1
        );
    }
}
