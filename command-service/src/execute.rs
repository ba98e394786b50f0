//! Running one command against an event store: the data path of every command route.
//!
//! validate (no I/O) → [read the stream once, when an idempotency key or `If-Match` needs it] →
//! `handle_command_with_decider_with` (read, fold, decide, append with the expected version,
//! re-decide on conflict; a command the decider accepts on an empty stream — placing an order —
//! is first appended with `no_stream` without reading) → the answer. Generic over the store, so tests run it on
//! [`InMemoryEventStore`](shared_domain::event_store::InMemoryEventStore) as well as over HTTP.

use serde_json::{Value, json};
use shared_domain::decider::{CommandError, HandleOptions, handle_command_with_decider_with};
use shared_domain::event_store::{EventStore, StoreError};
use shared_domain::orders::{self, OrderCommand, OrdersDecider};
use shared_domain::retry::RetryPolicy;
use shared_domain::service::TraceContext;
use shared_domain::wire::ReadStreamResult;

use crate::answers::Answer;
use crate::error::CommandFailure;
use crate::idempotency::{
    HASH_FIELD, IdempotencyKey, KEY_FIELD, Prior, find_prior, request_hash, store_key,
};
use crate::store::Prefetched;

/// What the client asked for besides the command, from its headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// `Idempotency-Key`.
    pub idempotency_key: Option<IdempotencyKey>,
    /// `If-Match: "<streamVersion>"`: decide only against this version, never re-decide.
    pub if_match: Option<u64>,
}

/// A command that succeeded (now or earlier).
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub answer: Answer,
    /// The answer repeats the one given to an earlier request with the same key.
    pub replayed: bool,
    /// Read-decide-append rounds (0 for a replay).
    pub attempts: u32,
}

/// Runs `command` on `store` (see the module documentation).
pub async fn execute<S: EventStore>(
    store: &S,
    decider: &OrdersDecider,
    conflict_retries: &RetryPolicy,
    command: &OrderCommand,
    preconditions: &Preconditions,
    trace: &TraceContext,
) -> Result<Executed, CommandFailure> {
    orders::validate(command).map_err(CommandError::Domain)?;
    let stream_id = command.order_id();
    let key = preconditions.idempotency_key.as_ref();
    let hash = key.map(|_| request_hash(command));

    let prefetched = match (key, preconditions.if_match) {
        (None, None) => None,
        _ => Some(read(store, stream_id).await?),
    };
    if let (Some(key), Some(hash), Some(stream)) = (key, &hash, &prefetched)
        && let Some(done) = answer_from_prior(decider, command, &stream.events, key, hash)?
    {
        return Ok(done);
    }
    if let (Some(expected), Some(stream)) = (preconditions.if_match, &prefetched)
        && stream.current_stream_version != expected
    {
        return Err(CommandFailure::PreconditionFailed {
            expected,
            current: Some(stream.current_stream_version),
        });
    }

    let options = HandleOptions {
        // With If-Match the client decided against one version: a conflict is its answer.
        conflict_retries: match preconditions.if_match {
            Some(_) => RetryPolicy {
                max_attempts: 1,
                ..conflict_retries.clone()
            },
            None => conflict_retries.clone(),
        },
        metadata: Some(metadata(command, trace, key, hash.as_deref())),
        idempotency_key: key.map(|key| store_key(stream_id, key)),
        // Placing an order needs no read: appended with `no_stream`, it fails only if the order
        // exists, and then the stream is read and the decider refuses as usual. (When the stream
        // was read already, for a key or If-Match, that read decides.)
        new_stream_first: prefetched.is_none(),
    };
    let store_with_prefetch = Prefetched::new(store, prefetched);
    let result = handle_command_with_decider_with(
        &store_with_prefetch,
        stream_id,
        command,
        decider,
        &options,
    )
    .await;

    match result {
        Ok(outcome) => {
            if let (Some(key), Some(hash)) = (key, &hash) {
                // A store that deduplicates by key hands back the first append's events.
                if find_prior(&outcome.events, key, hash) == Prior::Different {
                    return Err(CommandFailure::IdempotencyKeyReused {
                        key: key.as_str().to_owned(),
                    });
                }
            }
            Ok(Executed {
                answer: Answer::new(
                    command,
                    &outcome.new_state,
                    outcome.next_expected_stream_version,
                    outcome.global_position.unwrap_or_default(),
                ),
                replayed: false,
                attempts: outcome.attempts,
            })
        }
        Err(CommandError::Store(StoreError::Unavailable(cause))) => {
            Err(CommandError::Store(StoreError::Unavailable(cause)).into())
        }
        Err(error) => {
            // A concurrent request with the same key may have won the race: its event is the
            // answer. (Refused or conflicting, this one wrote nothing.)
            if let (Some(key), Some(hash)) = (key, &hash)
                && let Ok(stream) = read(store, stream_id).await
                && let Some(done) = answer_from_prior(decider, command, &stream.events, key, hash)?
            {
                return Ok(done);
            }
            match (preconditions.if_match, error) {
                (Some(expected), CommandError::ConflictRetriesExhausted { .. }) => {
                    Err(CommandFailure::PreconditionFailed {
                        expected,
                        current: None,
                    })
                }
                (_, error) => Err(error.into()),
            }
        }
    }
}

async fn read<S: EventStore>(
    store: &S,
    stream_id: &str,
) -> Result<ReadStreamResult, CommandFailure> {
    store
        .read_stream(stream_id)
        .await
        .map_err(|e| CommandError::Store(e).into())
}

/// The earlier answer for `key` in `events`, if the command already ran; an error if the key was
/// used for something else.
fn answer_from_prior(
    decider: &OrdersDecider,
    command: &OrderCommand,
    events: &[shared_domain::event::ReadEvent],
    key: &IdempotencyKey,
    hash: &str,
) -> Result<Option<Executed>, CommandFailure> {
    match find_prior(events, key, hash) {
        Prior::None => Ok(None),
        Prior::Different => Err(CommandFailure::IdempotencyKeyReused {
            key: key.as_str().to_owned(),
        }),
        Prior::Same(index) => match Answer::rebuilt(command, decider, events, index) {
            Some(answer) => Ok(Some(Executed {
                answer,
                replayed: true,
                attempts: 0,
            })),
            None => Err(CommandError::UndecodableEvent {
                stream_id: command.order_id().to_owned(),
                position: events[index].stream_position,
                reason: "an event up to the replayed one is not an order event".to_owned(),
            }
            .into()),
        },
    }
}

/// Metadata stamped on the command's event: the trace context (so the store can pass the trace
/// on in webhook deliveries), the request id, the command type and, with a key, the key and the
/// request's hash.
fn metadata(
    command: &OrderCommand,
    trace: &TraceContext,
    key: Option<&IdempotencyKey>,
    hash: Option<&str>,
) -> Value {
    let mut metadata = json!({
        "traceparent": trace.to_traceparent(),
        "requestId": trace.request_id(),
        "commandType": command.command_type(),
    });
    if let (Some(key), Some(hash), Value::Object(map)) = (key, hash, &mut metadata) {
        map.insert(KEY_FIELD.into(), json!(key.as_str()));
        map.insert(HASH_FIELD.into(), json!(hash));
    }
    metadata
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::Mutex;

    use shared_domain::event::Event;
    use shared_domain::event_store::{AppendOptions, CountingReads, InMemoryEventStore};
    use shared_domain::money::Money;
    use shared_domain::orders::{OrderItem, PlaceOrder, ShipOrder};
    use shared_domain::wire::AppendResult;

    use super::*;

    fn place(order_id: &str) -> OrderCommand {
        OrderCommand::Place(PlaceOrder {
            order_id: order_id.into(),
            customer_id: "cust-1".into(),
            items: vec![OrderItem {
                product_id: "sku-1".into(),
                quantity: 2,
                price: Money::from_str("10").unwrap(),
            }],
        })
    }

    fn ship(order_id: &str) -> OrderCommand {
        OrderCommand::Ship(ShipOrder {
            order_id: order_id.into(),
            tracking_number: "TRK1".into(),
            carrier: "UPS".into(),
        })
    }

    fn keyed(key: &str) -> Preconditions {
        Preconditions {
            idempotency_key: Some(IdempotencyKey::parse(key.as_bytes()).unwrap()),
            if_match: None,
        }
    }

    async fn run<S: EventStore>(
        store: &S,
        command: &OrderCommand,
        preconditions: &Preconditions,
    ) -> Result<Executed, CommandFailure> {
        execute(
            store,
            &OrdersDecider::default(),
            &RetryPolicy::conflict_retries(),
            command,
            preconditions,
            &TraceContext::new_root(),
        )
        .await
    }

    #[tokio::test]
    async fn invalid_input_is_refused_before_any_io() {
        let store = InMemoryEventStore::new();
        let mut command = place("order-1");
        if let OrderCommand::Place(p) = &mut command {
            p.items.clear();
        }
        let failure = run(&store, &command, &Preconditions::default())
            .await
            .unwrap_err();
        assert_eq!(failure.outcome(), "invalid");
        assert!(store.all_events().is_empty());
    }

    #[tokio::test]
    async fn a_repeated_key_replays_from_the_stream_without_appending() {
        let store = InMemoryEventStore::new();
        let first = run(&store, &place("order-1"), &keyed("k")).await.unwrap();
        let again = run(&store, &place("order-1"), &keyed("k")).await.unwrap();
        assert!(!first.replayed);
        assert!(again.replayed);
        assert_eq!(again.answer, first.answer);
        assert_eq!(store.all_events().len(), 1);
    }

    /// A store on which another request with the same key appends between our read and our
    /// append (the store then answers our append with that request's result).
    struct RacedStore {
        inner: InMemoryEventStore,
        rival: Mutex<Option<(Vec<Event>, AppendOptions)>>,
    }

    impl EventStore for RacedStore {
        async fn read_stream(&self, stream_id: &str) -> Result<ReadStreamResult, StoreError> {
            self.inner.read_stream(stream_id).await
        }

        async fn append_to_stream(
            &self,
            stream_id: &str,
            events: Vec<Event>,
            options: AppendOptions,
        ) -> Result<AppendResult, StoreError> {
            let rival = self.rival.lock().unwrap().take();
            if let Some((rival_events, rival_options)) = rival {
                self.inner
                    .append_to_stream(stream_id, rival_events, rival_options)
                    .await?;
            }
            self.inner
                .append_to_stream(stream_id, events, options)
                .await
        }
    }

    #[tokio::test]
    async fn a_race_lost_to_the_same_request_answers_with_the_winners_event() {
        let store = RacedStore {
            inner: InMemoryEventStore::new(),
            rival: Mutex::new(None),
        };
        run(&store.inner, &place("order-1"), &Preconditions::default())
            .await
            .unwrap();
        let command = ship("order-1");
        let key = IdempotencyKey::parse(b"k").unwrap();
        let rival = Event::new(
            "order.shipped",
            serde_json::json!({"orderId": "order-1", "trackingNumber": "TRK1", "carrier": "UPS",
                "shippedAt": "2024-05-01T12:00:00.000Z"}),
        )
        .with_metadata(json!({KEY_FIELD: "k", HASH_FIELD: request_hash(&command)}));
        *store.rival.lock().unwrap() = Some((
            vec![rival],
            AppendOptions {
                expected_stream_version: shared_domain::event::ExpectedStreamVersion::Exact(1),
                idempotency_key: Some(store_key("order-1", &key)),
            },
        ));

        let done = run(&store, &command, &keyed("k")).await.unwrap();

        assert_eq!(done.answer.stream_version(), 2);
        assert_eq!(store.inner.all_events().len(), 2, "one shipped event");
    }

    #[tokio::test]
    async fn if_match_on_another_version_is_refused_without_appending() {
        let store = InMemoryEventStore::new();
        run(&store, &place("order-1"), &Preconditions::default())
            .await
            .unwrap();
        let preconditions = Preconditions {
            idempotency_key: None,
            if_match: Some(0),
        };
        let failure = run(&store, &ship("order-1"), &preconditions)
            .await
            .unwrap_err();
        assert_eq!(failure.outcome(), "precondition_failed");
        assert_eq!(store.all_events().len(), 1);
    }

    #[tokio::test]
    async fn placing_reads_nothing_and_placing_again_reads_and_is_refused() {
        let store = CountingReads::default();

        let placed = run(&store, &place("order-1"), &Preconditions::default())
            .await
            .unwrap();
        let reads_to_place = store.reads();
        let again = run(&store, &place("order-1"), &Preconditions::default())
            .await
            .unwrap_err();

        assert_eq!(reads_to_place, 0);
        assert_eq!(placed.answer.stream_version(), 1);
        assert_eq!(again.outcome(), "illegal_state", "{again:?}");
        assert_eq!(store.reads(), 1);
        assert_eq!(store.inner.all_events().len(), 1);
    }
}
