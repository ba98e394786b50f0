//! The event-store checks: every command answered 2xx has its event in the store, exactly once,
//! where the answer said (`globalPosition`, `streamVersion`), carrying the command's
//! idempotency key; no key was written twice; global positions only grow and each stream's
//! positions run 1, 2, 3… from an `order.placed`.

use std::collections::{BTreeMap, HashMap};

use shared_domain::client::EventStoreClient;
use shared_domain::event::ReadEvent;
use shared_domain::wire::MAX_PAGE_SIZE;

use super::load::Accepted;
use crate::stack::{API_KEY, HarnessError};

/// Problems listed at most (the count is always given).
const MAX_LISTED: usize = 10;

/// What the store holds, checked.
#[derive(Debug, Default)]
pub struct StoreCheck {
    pub events: usize,
    pub streams: usize,
    /// Global position of the newest event.
    pub head: u64,
    /// Events whose command got no 2xx (the client gave up, or was refused after a retry
    /// found the state changed): legal, reported.
    pub unacknowledged: usize,
    /// Gaps in the global positions (legal: a position is never reused, and never seen late).
    pub position_gaps: u64,
    pub problems: Vec<String>,
    /// How many problems there were in all.
    pub problem_count: usize,
}

impl StoreCheck {
    fn problem(&mut self, what: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(what);
        }
    }
}

/// Every event of the `orders` store, in global order, from `from`.
pub async fn read_from(eventstore: &str, from: u64) -> Result<Vec<ReadEvent>, HarnessError> {
    let client = EventStoreClient::new(eventstore, "orders")
        .map_err(|e| HarnessError(format!("event store client: {e}")))?
        .with_api_key(Some(API_KEY.to_owned()));
    let mut events = Vec::new();
    let mut next = from;
    loop {
        let page = client
            .read_all(next, MAX_PAGE_SIZE, None)
            .await
            .map_err(|e| HarnessError(format!("read-all from {next}: {e}")))?;
        let done = page.events.len() < MAX_PAGE_SIZE as usize;
        events.extend(page.events);
        if done || page.next_global_position <= next {
            return Ok(events);
        }
        next = page.next_global_position;
    }
}

/// Checks `events` (the whole store, in global order) against the accepted commands.
pub fn check(events: &[ReadEvent], accepted: &[Accepted]) -> StoreCheck {
    let mut check = StoreCheck {
        events: events.len(),
        head: events.last().map_or(0, |e| e.global_position),
        ..StoreCheck::default()
    };
    let mut previous = 0;
    let mut versions: HashMap<&str, u64> = HashMap::new();
    let mut by_key: HashMap<&str, Vec<u64>> = HashMap::new();
    for event in events {
        if event.global_position <= previous {
            check.problem(format!(
                "global position {} after {previous}",
                event.global_position
            ));
        }
        check.position_gaps += event.global_position.saturating_sub(previous + 1);
        previous = event.global_position;
        let version = versions.entry(&event.stream_id).or_default();
        if event.stream_position != *version + 1 {
            check.problem(format!(
                "stream {} goes from position {version} to {}",
                event.stream_id, event.stream_position
            ));
        }
        let placed = event.event_type == "order.placed";
        if placed != (event.stream_position == 1) {
            check.problem(format!(
                "stream {}: {} at position {}",
                event.stream_id, event.event_type, event.stream_position
            ));
        }
        *version = event.stream_position;
        if let Some(key) = idempotency_key(event) {
            by_key.entry(key).or_default().push(event.global_position);
        }
    }
    check.streams = versions.len();
    for (key, positions) in &by_key {
        if positions.len() > 1 {
            check.problem(format!(
                "command {key} was written {} times, at {positions:?}",
                positions.len()
            ));
        }
    }
    let at: BTreeMap<u64, &ReadEvent> = events.iter().map(|e| (e.global_position, e)).collect();
    let mut claimed: HashMap<u64, &str> = HashMap::new();
    for answer in accepted {
        if let Some(other) = claimed.insert(answer.global_position, &answer.key) {
            check.problem(format!(
                "commands {other} and {} were both answered with position {}",
                answer.key, answer.global_position
            ));
        }
        match at.get(&answer.global_position) {
            Some(event)
                if event.stream_id == answer.order_id
                    && event.event_type == answer.event_type
                    && event.stream_position == answer.stream_version
                    && idempotency_key(event) == Some(answer.key.as_str()) => {}
            Some(event) => check.problem(format!(
                "2xx for {} {} (key {}) at {}, but the store holds {} {} v{} there",
                answer.event_type,
                answer.order_id,
                answer.key,
                answer.global_position,
                event.event_type,
                event.stream_id,
                event.stream_position
            )),
            None => check.problem(format!(
                "2xx for {} {} at {}: no such event in the store (acknowledged, then lost)",
                answer.event_type, answer.order_id, answer.global_position
            )),
        }
    }
    check.unacknowledged = events.len().saturating_sub(claimed.len());
    check
}

/// The command's idempotency key, which the command service stores in the event's metadata.
fn idempotency_key(event: &ReadEvent) -> Option<&str> {
    event.metadata.as_ref()?.get("idempotencyKey")?.as_str()
}
