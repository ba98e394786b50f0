//! Rebuild rates: the same number of events replayed from memory (the Redis side alone) and
//! from the real event store's read-all API (PostgreSQL, HTTP, Redis).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use projection_service::projector::Projector;
use projection_service::rebuild::{
    EventSource, RebuildSettings, Rebuilder, SourceError, event_store,
};
use redis::aio::ConnectionManager;
use serde_json::json;
use shared_domain::event::ReadEvent;
use shared_domain::read_model::ReadModelKeys;
use shared_domain::testing::redis::delete_namespace;
use shared_domain::wire::ReadAllResult;
use tokio_util::sync::CancellationToken;

use super::events::batch;
use super::{BATCH, DATABASE, NAMESPACE};
use crate::bench::BoxError;
use crate::bench::eventstore::recreate_database;

/// Pages served from memory.
struct MemorySource(Vec<ReadEvent>);

impl EventSource for MemorySource {
    fn read_all(&self, from: u64, limit: u32) -> BoxFuture<'_, Result<ReadAllResult, SourceError>> {
        // Positions are 1..=n without gaps, so position p is at index p - 1.
        let start = (from.max(1) - 1) as usize;
        let end = (start + limit as usize).min(self.0.len());
        let events = self.0.get(start..end).unwrap_or_default().to_vec();
        let next = events.last().map_or(from, |e| e.global_position + 1);
        Box::pin(async move {
            Ok(ReadAllResult {
                events,
                next_global_position: next,
            })
        })
    }
}

/// Runs both rebuilds of `count` events; the Markdown table.
pub async fn run(redis_url: &str, count: usize) -> Result<String, BoxError> {
    let events: Vec<ReadEvent> = (0..count.div_ceil(BATCH) as u64)
        .flat_map(|i| batch(1, 0, i))
        .take(count)
        .collect();
    let memory = rebuild_from(redis_url, Arc::new(MemorySource(events.clone()))).await?;
    eprintln!(
        "  rebuild from memory: {:.0} events/s",
        memory.0 as f64 / memory.1.as_secs_f64()
    );

    let store = StoreFixture::start().await?;
    store.load(&events).await?;
    let source = event_store(&projection_service::config::EventStoreSettings {
        url: store.base.clone(),
        api_key: None,
        name: "orders".to_owned(),
        timeout: Duration::from_secs(30),
    })?;
    let from_store = rebuild_from(redis_url, source).await?;
    eprintln!(
        "  rebuild from the event store: {:.0} events/s",
        from_store.0 as f64 / from_store.1.as_secs_f64()
    );
    store.stop().await;

    let mut out =
        String::from("| rebuild source | events | seconds | events/s |\n|---|---:|---:|---:|\n");
    for (name, (n, elapsed)) in [
        ("memory (Redis side only)", memory),
        ("event store read-all", from_store),
    ] {
        out.push_str(&format!(
            "| {name} | {n} | {:.2} | {:.0} |\n",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        ));
    }
    Ok(out)
}

/// One rebuild into a clean namespace: events read and the time from start to switch.
async fn rebuild_from(
    redis_url: &str,
    source: Arc<dyn EventSource>,
) -> Result<(u64, Duration), BoxError> {
    delete_namespace(redis_url, NAMESPACE).await?;
    let redis = ConnectionManager::new(redis::Client::open(redis_url)?).await?;
    let projector = Projector::new(redis, ReadModelKeys::new(NAMESPACE));
    let rebuilder = Rebuilder::new(
        projector,
        source,
        RebuildSettings {
            page_size: 1000,
            old_generation_grace: Duration::ZERO,
        },
    );
    let started = Instant::now();
    let report = rebuilder
        .start()
        .await?
        .run(CancellationToken::new())
        .await?;
    Ok((report.events_read, started.elapsed()))
}

/// The event store in-process on the bench database.
pub(super) struct StoreFixture {
    pub base: String,
    shutdown: shared_domain::service::Shutdown,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    http: reqwest::Client,
}

impl StoreFixture {
    /// The service on a fresh `DATABASE`, with the stores `orders` and `lag`.
    pub async fn start() -> Result<Self, BoxError> {
        let server = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| crate::bench::DEFAULT_DATABASE_URL.to_owned());
        let url = recreate_database(&server, DATABASE).await?;
        let config = eventstore_service::Config::for_database(url);
        let app = eventstore_service::Application::build(config).await?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let shutdown = shared_domain::service::Shutdown::new();
        let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(30))
            .build()?;
        let fixture = Self {
            base,
            shutdown,
            server,
            http,
        };
        for store in ["orders", "lag"] {
            let created = fixture
                .http
                .post(format!("{}/api/event-stores", fixture.base))
                .json(&json!({ "name": store }))
                .send()
                .await?;
            if !created.status().is_success() {
                return Err(format!("creating store {store}: {}", created.status()).into());
            }
        }
        Ok(fixture)
    }

    /// Appends `events` to `orders`, one append per order (its events together), 16 at a time.
    pub async fn load(&self, events: &[ReadEvent]) -> Result<(), BoxError> {
        let mut by_order: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for event in events {
            let slot = *index.entry(event.stream_id.clone()).or_insert_with(|| {
                by_order.push((event.stream_id.clone(), Vec::new()));
                by_order.len() - 1
            });
            by_order[slot]
                .1
                .push(json!({"type": event.event_type, "data": event.data}));
        }
        futures_util::stream::iter(by_order)
            .map(|(stream, events)| async move {
                let response = self
                    .http
                    .post(format!("{}/api/event-stores/orders/streams/{stream}", self.base))
                    .json(&json!({"events": events, "options": {"expectedStreamVersion": "no_stream"}}))
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err::<(), BoxError>(format!("append: {}", response.status()).into());
                }
                Ok(())
            })
            .buffer_unordered(16)
            .try_collect::<()>()
            .await
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.server.await;
    }
}
