//! [`EventStoreClient`]: the event store's HTTP API (DESIGN.md, "Event store service") for Rust
//! callers. It implements [`EventStore`], so the command service's decider loop and the
//! projection rebuild run on it unchanged.
//!
//! Every call is bounded by a time-out. Failures map onto [`StoreError`]: 409
//! `StreamVersionConflict` → [`StoreError::VersionConflict`]; 5xx, 429, time-outs and refused
//! connections → [`StoreError::Unavailable`] (retry later); any other 4xx →
//! [`StoreError::Rejected`]; an answer that does not decode → [`StoreError::Protocol`].
//!
//! Per-call headers (trace context) go on a cheap clone:
//! `client.with_headers(headers).append(…)`, or `client.with_trace(&trace)` with the service kit.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::event::Event;
use crate::event_store::{AppendOptions, EventStore, StoreError};
use crate::wire::{
    AppendOptions as WireAppendOptions, AppendRequest, AppendResult, Direction, ErrorBody,
    EventStoreInfo, MAX_PAGE_SIZE, ReadAllResult, ReadStreamResult,
};

/// Time-out of every call unless [`EventStoreClient::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which part of a stream [`EventStoreClient::read_stream_page`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPage {
    pub direction: Direction,
    /// First position read (forward: lowest; backward: highest); `None`: start or end.
    pub from: Option<u64>,
    /// Last position read, inclusive.
    pub to: Option<u64>,
    /// 1 to 1000.
    pub limit: u32,
}

impl Default for StreamPage {
    fn default() -> Self {
        Self {
            direction: Direction::Forward,
            from: None,
            to: None,
            limit: MAX_PAGE_SIZE,
        }
    }
}

#[derive(Debug, Clone)]
struct Settings {
    http: reqwest::Client,
    base: Url,
    store: String,
    api_key: Option<String>,
    timeout: Duration,
}

/// A client of one event store (`store`) on one service (`base_url`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventStoreClient {
    settings: Arc<Settings>,
    /// Extra headers sent with every call of this clone (trace context).
    headers: Arc<HeaderMap>,
}

impl EventStoreClient {
    /// A client for the store `store` of the service at `base_url` (e.g.
    /// `http://eventstore-service:8081`). Fails when the URL cannot be a base URL.
    pub fn new(base_url: &str, store: impl Into<String>) -> Result<Self, StoreError> {
        let base = Url::parse(base_url)
            .ok()
            .filter(|u| !u.cannot_be_a_base() && matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                StoreError::Protocol(format!(
                    "{:?} is not an http(s) base URL",
                    crate::redact::redact_urls_in(base_url)
                ))
            })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| StoreError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            settings: Arc::new(Settings {
                http,
                base,
                store: store.into(),
                api_key: None,
                timeout: DEFAULT_TIMEOUT,
            }),
            headers: Arc::new(HeaderMap::new()),
        })
    }

    /// The same client presenting `api_key` (as `X-API-Key`); `None` for none.
    #[must_use]
    pub fn with_api_key(mut self, api_key: Option<String>) -> Self {
        Arc::make_mut(&mut self.settings).api_key = api_key.filter(|k| !k.is_empty());
        self
    }

    /// The same client with another time-out for every call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.settings).timeout = timeout;
        self
    }

    /// The same client for another store of the same service.
    #[must_use]
    pub fn for_store(&self, store: impl Into<String>) -> Self {
        let mut settings = (*self.settings).clone();
        settings.store = store.into();
        Self {
            settings: Arc::new(settings),
            headers: self.headers.clone(),
        }
    }

    /// A clone that also sends `headers` on every call (they replace same-named ones added
    /// before), e.g. `x-request-id` and `traceparent`.
    #[must_use]
    pub fn with_headers(&self, headers: HeaderMap) -> Self {
        let mut merged = (*self.headers).clone();
        for (name, value) in &headers {
            merged.insert(name.clone(), value.clone());
        }
        Self {
            settings: self.settings.clone(),
            headers: Arc::new(merged),
        }
    }

    /// A clone that passes on `trace` (`x-request-id`, `traceparent`).
    #[cfg(feature = "service")]
    #[must_use]
    pub fn with_trace(&self, trace: &crate::service::TraceContext) -> Self {
        let mut headers = HeaderMap::new();
        for (name, value) in trace.outbound_headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        self.with_headers(headers)
    }

    /// The store this client addresses.
    pub fn store(&self) -> &str {
        &self.settings.store
    }

    /// `Ok` when the service is ready (`GET /health/ready` answers 2xx).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let url = self.url(&["health", "ready"])?;
        let response = self.send(self.request(Method::GET, url)).await?;
        check(response).await.map(|_| ())
    }

    /// Creates the store unless it exists: `true` when this call created it.
    pub async fn create_store_if_missing(
        &self,
        description: Option<&str>,
    ) -> Result<bool, StoreError> {
        let url = self.url(&["api", "event-stores"])?;
        let body = json!({ "name": self.store(), "description": description });
        let response = self
            .send(self.request(Method::POST, url).json(&body))
            .await?;
        if response.status() == StatusCode::CONFLICT {
            return Ok(false);
        }
        check(response).await.map(|_| true)
    }

    /// The store with its statistics.
    pub async fn get_store(&self) -> Result<EventStoreInfo, StoreError> {
        let url = self.url(&["api", "event-stores", self.store()])?;
        self.call(self.request(Method::GET, url)).await
    }

    /// Appends `request` to `stream_id` (POST …/streams/{streamId}).
    pub async fn append(
        &self,
        stream_id: &str,
        request: &AppendRequest,
    ) -> Result<AppendResult, StoreError> {
        let url = self.stream_url(stream_id)?;
        let response = self
            .send(self.request(Method::POST, url).json(request))
            .await?;
        if response.status() == StatusCode::CONFLICT {
            let error = error_of(response).await;
            if error.error == "StreamVersionConflict" {
                let details = error.details.unwrap_or(Value::Null);
                return Err(StoreError::VersionConflict {
                    expected: serde_json::from_value(details["expectedVersion"].clone())
                        .unwrap_or_else(|_| request.effective_expected_version()),
                    current: details["currentVersion"].as_u64().unwrap_or(0),
                });
            }
            return Err(rejected(StatusCode::CONFLICT, error));
        }
        decode(check(response).await?).await
    }

    /// One page of a stream.
    pub async fn read_stream_page(
        &self,
        stream_id: &str,
        page: StreamPage,
    ) -> Result<ReadStreamResult, StoreError> {
        let mut url = self.stream_url(stream_id)?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair(
                "direction",
                match page.direction {
                    Direction::Forward => "forward",
                    Direction::Backward => "backward",
                },
            );
            if let Some(from) = page.from {
                query.append_pair("fromStreamPosition", &from.to_string());
            }
            if let Some(to) = page.to {
                query.append_pair("toStreamPosition", &to.to_string());
            }
            query.append_pair("limit", &page.limit.to_string());
        }
        self.call(self.request(Method::GET, url)).await
    }

    /// The whole stream, forward, read in pages of 1000. The version is that of the snapshot in
    /// which the last page was read, and every event up to it is returned.
    pub async fn read_all_of_stream(
        &self,
        stream_id: &str,
    ) -> Result<ReadStreamResult, StoreError> {
        let mut events = Vec::new();
        let mut from = 1;
        loop {
            let page = self
                .read_stream_page(
                    stream_id,
                    StreamPage {
                        from: Some(from),
                        ..StreamPage::default()
                    },
                )
                .await?;
            let full = page.events.len() >= MAX_PAGE_SIZE as usize;
            if let Some(last) = page.events.last() {
                from = last.stream_position + 1;
            }
            events.extend(page.events);
            if !full {
                return Ok(ReadStreamResult {
                    events,
                    current_stream_version: page.current_stream_version,
                });
            }
        }
    }

    /// Events of the store in global order from `from` (inclusive), at most `limit` (≤ 1000),
    /// optionally filtered by type (`order.*,*.cancelled`). Continue from `nextGlobalPosition`.
    pub async fn read_all(
        &self,
        from: u64,
        limit: u32,
        type_filter: Option<&str>,
    ) -> Result<ReadAllResult, StoreError> {
        let mut url = self.url(&["api", "event-stores", self.store(), "events"])?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("fromGlobalPosition", &from.to_string());
            query.append_pair("limit", &limit.to_string());
            if let Some(filter) = type_filter {
                query.append_pair("type", filter);
            }
        }
        self.call(self.request(Method::GET, url)).await
    }

    fn url(&self, segments: &[&str]) -> Result<Url, StoreError> {
        let mut url = self.settings.base.clone();
        url.path_segments_mut()
            .map_err(|()| StoreError::Protocol("base URL cannot take a path".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn stream_url(&self, stream_id: &str) -> Result<Url, StoreError> {
        // `extend` percent-encodes each segment, `/` included — but silently drops `.` and `..`
        // (URL dot segments), which would address another route: refuse them here.
        if stream_id == "." || stream_id == ".." {
            return Err(StoreError::Rejected {
                status: 400,
                error: "ValidationError".to_owned(),
                message: format!("{stream_id:?} is not a stream id: URLs treat it as a path step"),
            });
        }
        self.url(&["api", "event-stores", self.store(), "streams", stream_id])
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let mut request = self
            .settings
            .http
            .request(method, url)
            .timeout(self.settings.timeout)
            .headers((*self.headers).clone());
        if let Some(key) = &self.settings.api_key {
            request = request.header("x-api-key", key);
        }
        request
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, StoreError> {
        request.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            StoreError::Unavailable(format!("{kind}: {}", without_url(&e)))
        })
    }

    async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, StoreError> {
        let response = self.send(request).await?;
        decode(check(response).await?).await
    }
}

/// A reqwest error without the URL (which may carry query parameters).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{text}: {source}"),
        None => text,
    }
}

/// The response when 2xx; the mapped error otherwise.
async fn check(response: Response) -> Result<Response, StoreError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let error = error_of(response).await;
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(StoreError::Unavailable(format!(
            "{} {}: {}",
            status.as_u16(),
            error.error,
            error.message
        )));
    }
    Err(rejected(status, error))
}

fn rejected(status: StatusCode, error: ErrorBody) -> StoreError {
    StoreError::Rejected {
        status: status.as_u16(),
        error: error.error,
        message: error.message,
    }
}

/// The error body, or one made up from the status when the body is not one.
async fn error_of(response: Response) -> ErrorBody {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => body,
        Err(_) => ErrorBody {
            error: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: format!("HTTP {}", status.as_u16()),
            details: None,
        },
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, StoreError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| StoreError::Unavailable(format!("reading the answer: {}", without_url(&e))))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::Protocol(format!("cannot decode the answer: {e}")))
}

impl EventStore for EventStoreClient {
    async fn read_stream(&self, stream_id: &str) -> Result<ReadStreamResult, StoreError> {
        self.read_all_of_stream(stream_id).await
    }

    async fn append_to_stream(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> Result<AppendResult, StoreError> {
        let request = AppendRequest {
            events,
            options: Some(WireAppendOptions {
                expected_stream_version: Some(options.expected_stream_version),
                idempotency_key: options.idempotency_key,
            }),
            expected_stream_version: None,
            idempotency_key: None,
        };
        self.append(stream_id, &request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_are_one_percent_encoded_segment() {
        let client = EventStoreClient::new("http://host:8081/", "orders").unwrap();
        let url = client.stream_url("tenant/order 1?x").unwrap();
        assert_eq!(
            url.as_str(),
            "http://host:8081/api/event-stores/orders/streams/tenant%2Forder%201%3Fx"
        );
    }

    #[test]
    fn dot_segments_are_refused_rather_than_dropped() {
        let client = EventStoreClient::new("http://host:8081/", "orders").unwrap();
        for id in [".", ".."] {
            assert!(
                matches!(
                    client.stream_url(id),
                    Err(StoreError::Rejected { status: 400, .. })
                ),
                "{id}"
            );
        }
        assert!(client.stream_url("a..b").is_ok());
    }

    #[test]
    fn a_base_path_is_kept() {
        let client = EventStoreClient::new("http://host/prefix", "orders").unwrap();
        assert_eq!(
            client.url(&["api", "event-stores"]).unwrap().as_str(),
            "http://host/prefix/api/event-stores"
        );
    }

    #[test]
    fn non_http_urls_are_refused() {
        assert!(EventStoreClient::new("mailto:x@y", "s").is_err());
        assert!(EventStoreClient::new("not a url", "s").is_err());
    }

    #[test]
    fn with_headers_leaves_the_original_alone() {
        let client = EventStoreClient::new("http://host", "s").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("abc"));
        let traced = client.with_headers(headers);
        assert!(client.headers.is_empty());
        assert_eq!(traced.headers.get("x-request-id").unwrap(), "abc");
    }
}
