//! The Decider pattern: business logic as pure functions, and the one place that connects a
//! decider to an event store ([`handle_command_with_decider`]).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::DomainError;
use crate::event::{Event, ExpectedStreamVersion, ReadEvent};
use crate::event_store::{AppendOptions, EventStore, StoreError};
use crate::retry::RetryPolicy;

/// Business logic as three pure functions (no I/O, no clock unless injected).
pub trait Decider: Send + Sync {
    type Command: Send + Sync;
    type State: Clone + Send + Sync;
    /// Domain events serialise to the toolkit's `{"type", "data"}` shape.
    type Event: Serialize + DeserializeOwned + Send + Sync;

    /// What happens if `command` is executed in `state`; an error rejects the command.
    fn decide(
        &self,
        command: &Self::Command,
        state: &Self::State,
    ) -> Result<Vec<Self::Event>, DomainError>;

    /// The state after `event`.
    fn evolve(&self, state: Self::State, event: &Self::Event) -> Self::State;

    /// The state of a stream with no events.
    fn initial_state(&self) -> Self::State;

    /// Folds events over the initial state.
    fn fold<'a>(&self, events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(self.initial_state(), |s, e| self.evolve(s, e))
    }
}

/// How [`handle_command_with_decider_with`] behaves beyond the defaults.
#[derive(Debug, Clone)]
pub struct HandleOptions {
    /// Re-read and re-decide this many times in all on a version conflict, waiting per policy.
    pub conflict_retries: RetryPolicy,
    /// Metadata stamped on every appended event (trace context, idempotency key, …).
    pub metadata: Option<Value>,
    /// Passed to the store as the append's `idempotencyKey`, so that an append the store has
    /// already committed under this key is not written twice.
    pub idempotency_key: Option<String>,
    /// Creation commands skip the read: when the decider accepts the command on the initial
    /// state, its events are first appended with `no_stream`, and only if the stream exists
    /// (a version conflict) is it read and the command decided as usual. Saves a read for every
    /// command that creates a stream; costs one refused append for a command the decider would
    /// also accept on an empty stream but that is sent to existing ones. The refused `no_stream`
    /// try does not count against `conflict_retries`.
    pub new_stream_first: bool,
}

impl Default for HandleOptions {
    fn default() -> Self {
        Self {
            conflict_retries: RetryPolicy::conflict_retries(),
            metadata: None,
            idempotency_key: None,
            new_stream_first: false,
        }
    }
}

/// What a successful command produced.
#[derive(Debug, Clone)]
pub struct CommandOutcome<S> {
    /// The state after the new events.
    pub new_state: S,
    /// The new events as stored (empty when the decider decided nothing).
    pub events: Vec<ReadEvent>,
    /// The stream's version after the command.
    pub next_expected_stream_version: u64,
    /// Global position of the last new event (`None` when nothing was appended).
    pub global_position: Option<u64>,
    /// Read-decide-append rounds it took (1 without conflicts).
    pub attempts: u32,
}

/// Why a command did not produce events.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The decider rejected the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Every attempt met a concurrent writer.
    #[error("stream {stream_id} kept changing: gave up after {attempts} attempts")]
    ConflictRetriesExhausted { stream_id: String, attempts: u32 },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A stored event does not decode as one of the decider's events.
    #[error(
        "stream {stream_id} holds an event this decider cannot read at position {position}: {reason}"
    )]
    UndecodableEvent {
        stream_id: String,
        position: u64,
        reason: String,
    },
    /// A decided event does not encode to `{"type", "data"}`.
    #[error("decided event cannot be encoded: {0}")]
    UnencodableEvent(String),
}

/// Read the stream, fold `evolve`, `decide`, append with the expected version; on a conflict,
/// re-read and retry with backoff (default options).
pub async fn handle_command_with_decider<S, D>(
    store: &S,
    stream_id: &str,
    command: &D::Command,
    decider: &D,
) -> Result<CommandOutcome<D::State>, CommandError>
where
    S: EventStore,
    D: Decider,
{
    handle_command_with_decider_with(
        store,
        stream_id,
        command,
        decider,
        &HandleOptions::default(),
    )
    .await
}

/// [`handle_command_with_decider`] with explicit options.
pub async fn handle_command_with_decider_with<S, D>(
    store: &S,
    stream_id: &str,
    command: &D::Command,
    decider: &D,
    options: &HandleOptions,
) -> Result<CommandOutcome<D::State>, CommandError>
where
    S: EventStore,
    D: Decider,
{
    if options.new_stream_first
        && let Some(created) =
            create_without_reading(store, stream_id, command, decider, options).await?
    {
        return Ok(created);
    }
    let mut attempt = 1;
    loop {
        let stream = store
            .read_stream(stream_id)
            .await
            .map_err(CommandError::Store)?;
        let history = decode_all::<D::Event>(stream_id, &stream.events)?;
        let state = decider.fold(history.iter());
        let decided = decider.decide(command, &state)?;
        if decided.is_empty() {
            return Ok(CommandOutcome {
                new_state: state,
                events: Vec::new(),
                next_expected_stream_version: stream.current_stream_version,
                global_position: None,
                attempts: attempt,
            });
        }
        let to_append = decided
            .iter()
            .map(|e| encode(e, options.metadata.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let append = AppendOptions {
            expected_stream_version: ExpectedStreamVersion::from_observed(
                stream.current_stream_version,
            ),
            idempotency_key: options.idempotency_key.clone(),
        };
        match store.append_to_stream(stream_id, to_append, append).await {
            Ok(result) => {
                let new_state = decided.iter().fold(state, |s, e| decider.evolve(s, e));
                return Ok(CommandOutcome {
                    new_state,
                    global_position: Some(result.global_position),
                    next_expected_stream_version: result.next_expected_stream_version,
                    events: result.events,
                    attempts: attempt,
                });
            }
            Err(StoreError::VersionConflict { .. }) => {
                match options.conflict_retries.delay_after(attempt) {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => {
                        return Err(CommandError::ConflictRetriesExhausted {
                            stream_id: stream_id.to_owned(),
                            attempts: attempt,
                        });
                    }
                }
                attempt += 1;
            }
            Err(other) => return Err(CommandError::Store(other)),
        }
    }
}

/// [`HandleOptions::new_stream_first`]: the command decided on the initial state and appended with
/// `no_stream`. `None` when the decider refuses it there or decides nothing, or the stream exists.
async fn create_without_reading<S, D>(
    store: &S,
    stream_id: &str,
    command: &D::Command,
    decider: &D,
    options: &HandleOptions,
) -> Result<Option<CommandOutcome<D::State>>, CommandError>
where
    S: EventStore,
    D: Decider,
{
    let state = decider.initial_state();
    let decided = match decider.decide(command, &state) {
        Ok(decided) if !decided.is_empty() => decided,
        // Refused or nothing to do on an empty stream: the stream decides, so read it.
        _ => return Ok(None),
    };
    let to_append = decided
        .iter()
        .map(|e| encode(e, options.metadata.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let append = AppendOptions {
        expected_stream_version: ExpectedStreamVersion::NoStream,
        idempotency_key: options.idempotency_key.clone(),
    };
    match store.append_to_stream(stream_id, to_append, append).await {
        Ok(result) => Ok(Some(CommandOutcome {
            new_state: decided.iter().fold(state, |s, e| decider.evolve(s, e)),
            global_position: Some(result.global_position),
            next_expected_stream_version: result.next_expected_stream_version,
            events: result.events,
            attempts: 1,
        })),
        Err(StoreError::VersionConflict { .. }) => Ok(None),
        Err(other) => Err(CommandError::Store(other)),
    }
}

/// A stored event as one of a decider's domain events.
pub fn decode<E: DeserializeOwned>(event: &ReadEvent) -> Result<E, serde_json::Error> {
    serde_json::from_value(serde_json::json!({"type": event.event_type, "data": event.data}))
}

fn decode_all<E: DeserializeOwned>(
    stream_id: &str,
    events: &[ReadEvent],
) -> Result<Vec<E>, CommandError> {
    events
        .iter()
        .map(|e| {
            decode(e).map_err(|err| CommandError::UndecodableEvent {
                stream_id: stream_id.to_owned(),
                position: e.stream_position,
                reason: err.to_string(),
            })
        })
        .collect()
}

/// A domain event as a toolkit [`Event`] (its serde form must be `{"type", "data"}`).
pub fn encode<E: Serialize>(event: &E, metadata: Option<Value>) -> Result<Event, CommandError> {
    let value =
        serde_json::to_value(event).map_err(|e| CommandError::UnencodableEvent(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(CommandError::UnencodableEvent("not an object".into()));
    };
    let Some(Value::String(event_type)) = map.remove("type") else {
        return Err(CommandError::UnencodableEvent("no string `type`".into()));
    };
    let data = map
        .remove("data")
        .unwrap_or(Value::Object(Default::default()));
    let mut event = Event::new(event_type, data);
    event.metadata = metadata;
    Ok(event)
}

#[cfg(test)]
mod tests;
