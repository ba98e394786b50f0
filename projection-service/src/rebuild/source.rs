//! Where a rebuild reads events: the event store's read-all API through the shared
//! [`EventStoreClient`], behind a small trait so the rebuild logic does not care who answers.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use shared_domain::client::EventStoreClient;
use shared_domain::service::TraceContext;
use shared_domain::wire::ReadAllResult;

use crate::config::EventStoreSettings;

/// The event types the projections read back: `order.*` (anything else would be skipped).
pub const TYPE_FILTER: &str = "order.*";

/// A failed read; the message holds no credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading events from the event store failed: {0}")]
pub struct SourceError(pub String);

/// Pages of every order event in global order.
pub trait EventSource: Send + Sync {
    /// Up to `limit` events from global position `from` (inclusive), and where to continue.
    fn read_all(&self, from: u64, limit: u32) -> BoxFuture<'_, Result<ReadAllResult, SourceError>>;

    /// [`read_all`](Self::read_all) as part of the trace `trace` (a rebuild's, a status
    /// request's): a source that calls out passes on its `x-request-id` and `traceparent`.
    fn read_all_traced(
        &self,
        from: u64,
        limit: u32,
        trace: &TraceContext,
    ) -> BoxFuture<'_, Result<ReadAllResult, SourceError>> {
        let _ = trace;
        self.read_all(from, limit)
    }
}

impl EventSource for EventStoreClient {
    fn read_all(&self, from: u64, limit: u32) -> BoxFuture<'_, Result<ReadAllResult, SourceError>> {
        Box::pin(read_orders(self.clone(), from, limit))
    }

    fn read_all_traced(
        &self,
        from: u64,
        limit: u32,
        trace: &TraceContext,
    ) -> BoxFuture<'_, Result<ReadAllResult, SourceError>> {
        Box::pin(read_orders(self.with_trace(trace), from, limit))
    }
}

async fn read_orders(
    client: EventStoreClient,
    from: u64,
    limit: u32,
) -> Result<ReadAllResult, SourceError> {
    client
        .read_all(from, limit, Some(TYPE_FILTER))
        .await
        .map_err(|e| SourceError(e.to_string()))
}

/// The client of the store `settings` names, as a shared event source.
pub fn event_store(settings: &EventStoreSettings) -> Result<Arc<dyn EventSource>, SourceError> {
    let client = EventStoreClient::new(&settings.url, settings.name.clone())
        .map_err(|e| SourceError(e.to_string()))?
        .with_api_key(settings.api_key.as_ref().map(|k| k.expose().to_owned()))
        .with_timeout(settings.timeout);
    Ok(Arc::new(client))
}
