//! Where a rebuild reads events: the event store's read-all API
//! (`GET /api/event-stores/{store}/events?fromGlobalPosition&limit`), behind a small trait so the
//! rebuild logic does not care who answers.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use shared_domain::wire::ReadAllResult;

use crate::config::EventStoreSettings;

/// A failed read; the message holds no credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading events from the event store failed: {0}")]
pub struct SourceError(pub String);

/// Pages of every event in global order.
pub trait EventSource: Send + Sync {
    /// Up to `limit` events from global position `from` (inclusive), and where to continue.
    fn read_all(&self, from: u64, limit: u32) -> BoxFuture<'_, Result<ReadAllResult, SourceError>>;
}

/// The event store over HTTP.
#[derive(Debug, Clone)]
pub struct HttpEventSource {
    client: reqwest::Client,
    events_url: String,
    api_key: Option<String>,
}

impl HttpEventSource {
    /// A reader of the store `settings` names.
    pub fn new(settings: &EventStoreSettings) -> Result<Self, SourceError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("projection-service/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            client,
            events_url: format!(
                "{}/api/event-stores/{}/events",
                settings.url.trim_end_matches('/'),
                settings.name
            ),
            api_key: settings.api_key.as_ref().map(|k| k.expose().to_owned()),
        })
    }

    /// As a shared trait object.
    pub fn shared(self) -> Arc<dyn EventSource> {
        Arc::new(self)
    }
}

impl EventSource for HttpEventSource {
    fn read_all(&self, from: u64, limit: u32) -> BoxFuture<'_, Result<ReadAllResult, SourceError>> {
        Box::pin(async move {
            let mut request = self
                .client
                .get(&self.events_url)
                .query(&[("fromGlobalPosition", from), ("limit", u64::from(limit))]);
            if let Some(key) = &self.api_key {
                request = request.header("x-api-key", key);
            }
            let response = request
                .send()
                .await
                .map_err(|e| SourceError(describe(&e)))?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                let preview: String = body.chars().take(200).collect();
                return Err(SourceError(format!(
                    "the event store answered {status}: {preview}"
                )));
            }
            response
                .json::<ReadAllResult>()
                .await
                .map_err(|e| SourceError(format!("unexpected read-all answer: {e}")))
        })
    }
}

/// A transport error in a few words (the API key travels in a header, never in the URL).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        error.to_string()
    }
}
