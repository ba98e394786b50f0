//! Append → read-model lag at a steady rate: the event store's subscription delivers to the
//! projection service; the lag of an event is the time from its append's 201 to the moment the
//! projection's checkpoint channel announces a position at or past it (the signal the query
//! service's read-your-writes waits for).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;
use shared_domain::read_model::ReadModelKeys;
use shared_domain::testing::redis::delete_namespace;
use tokio::sync::Mutex;

use super::events::order_events;
use super::rebuild::StoreFixture;
use super::{NAMESPACE, TOKEN, start_projection};
use crate::bench::BoxError;

/// Appends at `rate` events/s for `duration`; the Markdown table of the lag.
pub async fn run(redis_url: &str, rate: u64, duration: Duration) -> Result<String, BoxError> {
    delete_namespace(redis_url, NAMESPACE).await?;
    let store = StoreFixture::start().await?;
    let (projection, shutdown, server) = start_projection(redis_url, Some(&store.base)).await?;
    let subscribed = store
        .http()
        .post(format!("{}/api/event-stores/lag/subscribe", store.base))
        .json(&json!({
            "id": "bench-lag",
            "eventFilter": ["order.placed", "order.shipped", "order.delivered", "order.cancelled"],
            "subscriberType": "webhook",
            "initialPosition": "earliest",
            "batchSize": 100,
            "webhook": {
                "url": format!("{projection}/api/projections/orders/events"),
                "headers": {"Authorization": format!("Bearer {TOKEN}")},
                "timeoutMs": 5000,
                "retryPolicy": {"maxAttempts": 100, "strategy": "fixed", "initialDelayMs": 50},
            },
        }))
        .send()
        .await?;
    if !subscribed.status().is_success() {
        return Err(format!(
            "subscribe: {}: {}",
            subscribed.status(),
            subscribed.text().await?
        )
        .into());
    }

    // Every checkpoint announcement, with the time it arrived.
    let announcements: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let mut pubsub = redis::Client::open(redis_url)?.get_async_pubsub().await?;
    pubsub
        .subscribe(ReadModelKeys::new(NAMESPACE).checkpoint_channel())
        .await?;
    let listener = {
        let announcements = Arc::clone(&announcements);
        tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let at = Instant::now();
                let payload: String = message.get_payload().unwrap_or_default();
                if let Some(position) = payload.split(' ').nth(1).and_then(|p| p.parse().ok()) {
                    announcements.lock().await.push((at, position));
                }
            }
        })
    };

    let appended = append_steadily(&store, rate, duration).await?;
    let last = appended.iter().map(|(_, p)| *p).max().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while announcements
        .lock()
        .await
        .last()
        .is_none_or(|(_, p)| *p < last)
    {
        if Instant::now() > deadline {
            return Err("the projection did not catch up within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    listener.abort();
    shutdown.trigger();
    let _ = server.await;
    store.stop().await;

    let announcements = announcements.lock().await.clone();
    let mut lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for (acknowledged, position) in &appended {
        let seen = announcements
            .iter()
            .find(|(_, p)| p >= position)
            .map(|(at, _)| *at)
            .ok_or("a position was never announced")?;
        let micros = seen.saturating_duration_since(*acknowledged).as_micros() as u64;
        lag.saturating_record(micros.max(1));
    }
    let ms = |q: f64| lag.value_at_quantile(q) as f64 / 1000.0;
    eprintln!(
        "  lag at {rate}/s: p50 {:.2} ms, p99 {:.2} ms",
        ms(0.5),
        ms(0.99)
    );
    Ok(format!(
        "| append → read model | rate/s | events | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n\
         | webhook subscription | {rate} | {} | {:.2} | {:.2} | {:.2} |\n",
        appended.len(),
        ms(0.5),
        ms(0.99),
        lag.max() as f64 / 1000.0
    ))
}

/// One event per append (a new order's `order.placed`) every `1/rate` s for `duration`; each
/// append's acknowledgement time and global position.
async fn append_steadily(
    store: &StoreFixture,
    rate: u64,
    duration: Duration,
) -> Result<Vec<(Instant, u64)>, BoxError> {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut appends = Vec::new();
    let mut n = 0u64;
    while started.elapsed() < duration {
        ticker.tick().await;
        let (http, base) = (store.http().clone(), store.base.clone());
        let order = format!("lag-{n}");
        n += 1;
        // Appends run concurrently, so a slow one does not lower the rate.
        appends.push(tokio::spawn(async move {
            let (event_type, data) = order_events(&order, "customer-lag", false).remove(0);
            let response = http
                .post(format!("{base}/api/event-stores/lag/streams/{order}"))
                .json(&json!({"events": [{"type": event_type, "data": data}]}))
                .send()
                .await?;
            let at = Instant::now();
            if !response.status().is_success() {
                return Err::<_, BoxError>(format!("append: {}", response.status()).into());
            }
            let body: serde_json::Value = response.json().await?;
            let position = body["globalPosition"].as_u64().ok_or("no globalPosition")?;
            Ok((at, position))
        }));
    }
    let mut done = Vec::with_capacity(appends.len());
    for append in appends {
        done.push(append.await??);
    }
    Ok(done)
}
