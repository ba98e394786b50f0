//! Watches the two checkpoints while the soak runs — the subscription's in the event store and
//! the projection's in Redis — every few hundred milliseconds, whenever the services answer.
//! A checkpoint that ever moves backwards, or a subscription seen in `ERROR`, is recorded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::stack::API_KEY;

/// How often the monitor looks.
const INTERVAL: Duration = Duration::from_millis(500);

/// Where to look.
#[derive(Debug, Clone)]
pub struct Watched {
    /// `GET` of the subscription on the event store.
    pub subscription_url: String,
    /// `GET` of the projection's status.
    pub projection_status_url: String,
}

/// What the monitor saw.
#[derive(Debug, Default)]
pub struct Observations {
    /// Samples per subscription status (`ACTIVE`, `ERROR`, … or `unreachable`).
    pub statuses: BTreeMap<String, u64>,
    /// The highest checkpoint each side reported.
    pub subscription_checkpoint: u64,
    pub projection_checkpoint: u64,
    /// A checkpoint lower than one seen before: `(which, before, after)`.
    pub regressions: Vec<(&'static str, u64, u64)>,
    /// The first `statusDetails` of a subscription in `ERROR`.
    pub first_error: Option<Value>,
}

/// Polls until `stop` is set; returns what it saw.
pub async fn watch(watched: Watched, stop: Arc<AtomicBool>) -> Observations {
    let mut seen = Observations::default();
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    {
        Ok(client) => client,
        Err(_) => return seen,
    };
    while !stop.load(Ordering::SeqCst) {
        sample(&http, &watched, &mut seen).await;
        tokio::time::sleep(INTERVAL).await;
    }
    seen
}

/// One look at both sides (public so the settling loop can take a last one).
pub async fn sample(http: &reqwest::Client, watched: &Watched, seen: &mut Observations) {
    let subscription = get(http
        .get(&watched.subscription_url)
        .header("X-API-Key", API_KEY))
    .await;
    match subscription {
        Some(body) => {
            let status = body["status"].as_str().unwrap_or("?").to_owned();
            if status == "ERROR" && seen.first_error.is_none() {
                seen.first_error = Some(body["statusDetails"].clone());
            }
            *seen.statuses.entry(status).or_default() += 1;
            if let Some(checkpoint) = body["lastProcessedEventGlobalPosition"].as_u64() {
                advance(
                    "subscription",
                    &mut seen.subscription_checkpoint,
                    checkpoint,
                    &mut seen.regressions,
                );
            }
        }
        None => *seen.statuses.entry("unreachable".to_owned()).or_default() += 1,
    }
    if let Some(body) = get(http.get(&watched.projection_status_url)).await
        && let Some(checkpoint) = body["checkpoint"].as_u64()
    {
        advance(
            "projection",
            &mut seen.projection_checkpoint,
            checkpoint,
            &mut seen.regressions,
        );
    }
}

fn advance(
    which: &'static str,
    highest: &mut u64,
    now: u64,
    regressions: &mut Vec<(&'static str, u64, u64)>,
) {
    if now < *highest {
        regressions.push((which, *highest, now));
    }
    *highest = (*highest).max(now);
}

async fn get(request: reqwest::RequestBuilder) -> Option<Value> {
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}
