use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;
use crate::event_store::{CountingReads, InMemoryEventStore};
use crate::wire::{AppendResult, ReadStreamResult};

/// A counter: the smallest decider that shows the machinery.
struct Counter;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum CounterEvent {
    #[serde(rename = "counter.incremented")]
    Incremented { by: u64 },
}

enum CounterCommand {
    Increment(u64),
    Noop,
    Fail,
}

impl Decider for Counter {
    type Command = CounterCommand;
    type State = u64;
    type Event = CounterEvent;

    fn decide(
        &self,
        command: &CounterCommand,
        _state: &u64,
    ) -> Result<Vec<CounterEvent>, DomainError> {
        match command {
            CounterCommand::Increment(by) => Ok(vec![CounterEvent::Incremented { by: *by }]),
            CounterCommand::Noop => Ok(vec![]),
            CounterCommand::Fail => Err(DomainError::validation("no", json!({}))),
        }
    }

    fn evolve(&self, state: u64, event: &CounterEvent) -> u64 {
        match event {
            CounterEvent::Incremented { by } => state + by,
        }
    }

    fn initial_state(&self) -> u64 {
        0
    }
}

/// Lets a competing writer append `interference` times between our read and our append.
struct Interfering {
    inner: InMemoryEventStore,
    interference: AtomicU32,
}

impl EventStore for Interfering {
    async fn read_stream(&self, stream_id: &str) -> Result<ReadStreamResult, StoreError> {
        self.inner.read_stream(stream_id).await
    }

    async fn append_to_stream(
        &self,
        stream_id: &str,
        events: Vec<Event>,
        options: AppendOptions,
    ) -> Result<AppendResult, StoreError> {
        if self.interference.load(Ordering::SeqCst) > 0 {
            self.interference.fetch_sub(1, Ordering::SeqCst);
            let competing = encode(&CounterEvent::Incremented { by: 100 }, None).unwrap();
            self.inner
                .append_to_stream(stream_id, vec![competing], AppendOptions::default())
                .await?;
        }
        self.inner
            .append_to_stream(stream_id, events, options)
            .await
    }
}

fn interfering(times: u32) -> Interfering {
    Interfering {
        inner: InMemoryEventStore::new(),
        interference: AtomicU32::new(times),
    }
}

#[tokio::test]
async fn command_appends_with_expected_version_and_returns_new_state() {
    let store = InMemoryEventStore::new();
    let first = handle_command_with_decider(&store, "c-1", &CounterCommand::Increment(2), &Counter)
        .await
        .unwrap();
    let second =
        handle_command_with_decider(&store, "c-1", &CounterCommand::Increment(3), &Counter)
            .await
            .unwrap();
    assert_eq!(first.new_state, 2);
    assert_eq!(second.new_state, 5);
    assert_eq!(second.next_expected_stream_version, 2);
    assert_eq!(second.global_position, Some(2));
    assert_eq!(second.events[0].event_type, "counter.incremented");
    assert_eq!(second.events[0].data, json!({"by": 3}));
}

#[tokio::test(start_paused = true)]
async fn conflict_between_read_and_append_is_retried_on_fresh_state() {
    let store = interfering(1);
    let outcome =
        handle_command_with_decider(&store, "c-1", &CounterCommand::Increment(1), &Counter)
            .await
            .unwrap();
    assert_eq!(outcome.attempts, 2);
    assert_eq!(
        outcome.new_state, 101,
        "the retry folded the competing event"
    );
    let positions: Vec<u64> = store
        .inner
        .all_events()
        .iter()
        .map(|e| e.stream_position)
        .collect();
    assert_eq!(positions, vec![1, 2]);
}

#[tokio::test(start_paused = true)]
async fn conflicts_beyond_the_bound_give_up() {
    let store = interfering(u32::MAX);
    let err = handle_command_with_decider(&store, "c-1", &CounterCommand::Increment(1), &Counter)
        .await
        .unwrap_err();
    let limit = RetryPolicy::conflict_retries().max_attempts;
    assert_eq!(
        err,
        CommandError::ConflictRetriesExhausted {
            stream_id: "c-1".into(),
            attempts: limit
        }
    );
    assert!(
        store
            .inner
            .all_events()
            .iter()
            .all(|e| e.data == json!({"by": 100})),
        "none of our events was written"
    );
}

#[tokio::test]
async fn rejected_command_writes_nothing() {
    let store = InMemoryEventStore::new();
    let err = handle_command_with_decider(&store, "c-1", &CounterCommand::Fail, &Counter)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CommandError::Domain(DomainError::Validation { .. })
    ));
    assert!(store.all_events().is_empty());
}

#[tokio::test]
async fn deciding_nothing_appends_nothing() {
    let store = InMemoryEventStore::new();
    let outcome = handle_command_with_decider(&store, "c-1", &CounterCommand::Noop, &Counter)
        .await
        .unwrap();
    assert_eq!(outcome.global_position, None);
    assert!(store.all_events().is_empty());
}

#[tokio::test]
async fn metadata_is_stamped_on_appended_events() {
    let store = InMemoryEventStore::new();
    let options = HandleOptions {
        metadata: Some(json!({"traceparent": "00-abc"})),
        ..HandleOptions::default()
    };
    let outcome = handle_command_with_decider_with(
        &store,
        "c-1",
        &CounterCommand::Increment(1),
        &Counter,
        &options,
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.events[0].metadata,
        Some(json!({"traceparent": "00-abc"}))
    );
}

#[tokio::test]
async fn an_undecodable_stored_event_is_reported_with_its_position() {
    let store = InMemoryEventStore::new();
    store
        .append_to_stream(
            "c-1",
            vec![Event::new("alien.event", json!({}))],
            AppendOptions::default(),
        )
        .await
        .unwrap();
    let err = handle_command_with_decider(&store, "c-1", &CounterCommand::Increment(1), &Counter)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CommandError::UndecodableEvent { position: 1, .. }
    ));
}

#[tokio::test]
async fn idempotency_key_reaches_the_store() {
    let store = InMemoryEventStore::new();
    let options = HandleOptions {
        idempotency_key: Some("key-1".into()),
        ..HandleOptions::default()
    };
    let first = handle_command_with_decider_with(
        &store,
        "c-1",
        &CounterCommand::Increment(1),
        &Counter,
        &options,
    )
    .await
    .unwrap();
    // The same key on an append the store already holds returns that append, not a new one.
    let replayed = store
        .append_to_stream(
            "c-1",
            vec![Event::new("counter.incremented", json!({"by": 1}))],
            AppendOptions {
                expected_stream_version: ExpectedStreamVersion::Any,
                idempotency_key: Some("key-1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(replayed.events, first.events);
    assert_eq!(store.all_events().len(), 1);
}

fn new_stream_first() -> HandleOptions {
    HandleOptions {
        new_stream_first: true,
        ..HandleOptions::default()
    }
}

#[tokio::test]
async fn new_stream_first_creates_a_stream_without_reading_it() {
    let store = CountingReads::default();

    let created = handle_command_with_decider_with(
        &store,
        "c-1",
        &CounterCommand::Increment(2),
        &Counter,
        &new_stream_first(),
    )
    .await
    .unwrap();

    assert_eq!(store.reads(), 0);
    assert_eq!(created.new_state, 2);
    assert_eq!(created.next_expected_stream_version, 1);
    assert_eq!(created.attempts, 1);
}

#[tokio::test]
async fn new_stream_first_on_an_existing_stream_reads_and_decides_as_usual() {
    let store = CountingReads::default();
    let options = new_stream_first();
    handle_command_with_decider_with(
        &store,
        "c-1",
        &CounterCommand::Increment(2),
        &Counter,
        &options,
    )
    .await
    .unwrap();

    let second = handle_command_with_decider_with(
        &store,
        "c-1",
        &CounterCommand::Increment(3),
        &Counter,
        &options,
    )
    .await
    .unwrap();

    // The no_stream append was refused, so the stream was read once and the command decided on it.
    assert_eq!(store.reads(), 1);
    assert_eq!(second.new_state, 5);
    assert_eq!(second.next_expected_stream_version, 2);
    let stored = store.inner.read_stream("c-1").await.unwrap();
    assert_eq!(stored.events.len(), 2);
}

#[tokio::test]
async fn new_stream_first_reads_when_the_decider_refuses_on_an_empty_stream() {
    let store = CountingReads::default();

    let refused = handle_command_with_decider_with(
        &store,
        "c-1",
        &CounterCommand::Fail,
        &Counter,
        &new_stream_first(),
    )
    .await;

    assert!(
        matches!(refused, Err(CommandError::Domain(_))),
        "{refused:?}"
    );
    assert_eq!(store.reads(), 1);
    assert!(
        store
            .inner
            .read_stream("c-1")
            .await
            .unwrap()
            .events
            .is_empty()
    );
}
