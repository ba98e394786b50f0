//! The pure half of a group commit: given what the database holds for the streams, keys and
//! event ids a batch touches, decide for each append, in arrival order, whether it is written
//! (and where), answered with an earlier result, or refused. No I/O, so every rule is unit-tested.

use std::collections::HashMap;

use shared_domain::event::ReadEvent;
use shared_domain::wire::AppendResult;
use uuid::Uuid;

use crate::error::StoreError;
use crate::model::ValidAppend;

/// What the database holds for a batch, read at the start of its transaction.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Version of each touched stream that exists.
    pub stream_versions: HashMap<String, u64>,
    /// Stored results by (stream, idempotency key): the request hash and the result.
    pub idempotency: HashMap<(String, String), (String, AppendResult)>,
    /// Stored events whose id a batch append carries.
    pub events_by_id: HashMap<Uuid, ReadEvent>,
}

/// What happens to one append of the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Written: its events take stream positions `first_stream_position..` and the batch's
    /// offsets `offset..offset + n` (global position = counter before the batch + offset + 1).
    Write {
        first_stream_position: u64,
        offset: u64,
        created_new_stream: bool,
        /// Shared by the append's events (`transactionId`).
        transaction_id: Uuid,
    },
    /// An idempotent retry of something already stored: answered with the original result.
    Replay(AppendResult),
    /// An idempotent retry of an earlier append of this same batch: answered with its result.
    SameAs(usize),
    /// Refused.
    Reject(StoreError),
}

/// The decisions for a batch, plus the totals the counter update needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub decisions: Vec<Decision>,
    /// Events the whole batch writes.
    pub total_events: u64,
    /// Streams the batch creates.
    pub new_streams: u64,
    /// Final version of every stream the batch writes to, each stream once.
    pub final_versions: Vec<(String, u64)>,
}

/// Decides every append of `batch` in order against `snapshot` and the appends before it.
pub fn plan(batch: &[&ValidAppend], snapshot: &Snapshot) -> Plan {
    let mut planner = Planner {
        batch,
        snapshot,
        versions: HashMap::new(),
        keys: HashMap::new(),
        ids: HashMap::new(),
        touched: Vec::new(),
        offset: 0,
        new_streams: 0,
    };
    let decisions = (0..batch.len()).map(|i| planner.decide(i)).collect();
    let final_versions = planner
        .touched
        .iter()
        .map(|s| ((*s).to_owned(), planner.versions[s]))
        .collect();
    Plan {
        decisions,
        total_events: planner.offset,
        new_streams: planner.new_streams,
        final_versions,
    }
}

struct Planner<'a> {
    batch: &'a [&'a ValidAppend],
    snapshot: &'a Snapshot,
    /// Running version of each stream, the batch's writes so far included.
    versions: HashMap<&'a str, u64>,
    /// (stream, key) → index of the append of this batch that wrote with it.
    keys: HashMap<(&'a str, &'a str), usize>,
    /// event id → index of the append of this batch that writes it.
    ids: HashMap<Uuid, usize>,
    /// Streams written, in first-write order.
    touched: Vec<&'a str>,
    offset: u64,
    new_streams: u64,
}

impl<'a> Planner<'a> {
    fn decide(&mut self, index: usize) -> Decision {
        let append = self.batch[index];
        let stream = append.stream_id.as_str();
        let snapshot = self.snapshot;
        let current = *self
            .versions
            .entry(stream)
            .or_insert_with(|| snapshot.stream_versions.get(stream).copied().unwrap_or(0));
        if let Some(decision) = self.by_idempotency_key(append) {
            return decision;
        }
        if let Some(decision) = self.by_event_ids(append) {
            return decision;
        }
        if !append.expected.matches(current) {
            return Decision::Reject(StoreError::VersionConflict {
                stream_id: stream.to_owned(),
                expected: append.expected,
                current: Some(current),
            });
        }
        let n = append.events.len() as u64;
        let decision = Decision::Write {
            first_stream_position: current + 1,
            offset: self.offset,
            created_new_stream: current == 0,
            transaction_id: Uuid::now_v7(),
        };
        self.offset += n;
        if current == 0 {
            self.new_streams += 1;
        }
        if !self.touched.contains(&stream) {
            self.touched.push(stream);
        }
        self.versions.insert(stream, current + n);
        if let Some(idem) = &append.idempotency {
            self.keys.insert((stream, idem.key.as_str()), index);
        }
        for event in &append.events {
            self.ids.insert(event.event_id, index);
        }
        decision
    }

    /// A stored or in-batch result under the same key: the same request gets it again, another
    /// request is refused.
    fn by_idempotency_key(&self, append: &ValidAppend) -> Option<Decision> {
        let idem = append.idempotency.as_ref()?;
        let stream = append.stream_id.as_str();
        let stored = self
            .snapshot
            .idempotency
            .get(&(stream.to_owned(), idem.key.as_str().to_owned()));
        if let Some((hash, result)) = stored {
            return Some(if *hash == idem.request_hash {
                Decision::Replay(result.clone())
            } else {
                key_reused(idem.key.as_str())
            });
        }
        let &first = self.keys.get(&(stream, idem.key.as_str()))?;
        let first_hash = self.batch[first]
            .idempotency
            .as_ref()
            .map(|i| i.request_hash.as_str());
        Some(if first_hash == Some(idem.request_hash.as_str()) {
            Decision::SameAs(first)
        } else {
            key_reused(idem.key.as_str())
        })
    }

    /// Events whose ids are stored already: the same append again (same ids, same stream, same
    /// order) is answered with the original result; any other overlap is refused.
    fn by_event_ids(&self, append: &ValidAppend) -> Option<Decision> {
        let ids: Vec<Uuid> = append.events.iter().map(|e| e.event_id).collect();
        let stored: Vec<&ReadEvent> = ids
            .iter()
            .filter_map(|id| self.snapshot.events_by_id.get(id))
            .collect();
        let in_batch: Vec<usize> = ids
            .iter()
            .filter_map(|id| self.ids.get(id).copied())
            .collect();
        if stored.is_empty() && in_batch.is_empty() {
            return None;
        }
        if append.client_event_ids
            && stored.len() == ids.len()
            && is_one_append(append.stream_id.as_str(), &stored)
        {
            return Some(Decision::Replay(result_of(&stored)));
        }
        if append.client_event_ids
            && in_batch.len() == ids.len()
            && in_batch.iter().all(|&i| i == in_batch[0])
            && self.batch[in_batch[0]].stream_id == append.stream_id
            && self.batch[in_batch[0]]
                .events
                .iter()
                .map(|e| e.event_id)
                .eq(ids.iter().copied())
        {
            return Some(Decision::SameAs(in_batch[0]));
        }
        let event_id = ids
            .iter()
            .find(|id| self.snapshot.events_by_id.contains_key(id) || self.ids.contains_key(id))
            .copied()
            .unwrap_or_default();
        let where_ = match self.snapshot.events_by_id.get(&event_id) {
            Some(e) => format!(
                " at position {} of stream {:?}",
                e.stream_position, e.stream_id
            ),
            None => " by an append made at the same time".to_owned(),
        };
        Some(Decision::Reject(StoreError::DuplicateEventId {
            event_id,
            where_,
        }))
    }
}

fn key_reused(key: &str) -> Decision {
    Decision::Reject(StoreError::IdempotencyKeyReused {
        key: key.to_owned(),
    })
}

/// Whether stored events are exactly one earlier append to `stream`: consecutive positions.
fn is_one_append(stream: &str, events: &[&ReadEvent]) -> bool {
    events.iter().all(|e| e.stream_id == stream)
        && events
            .windows(2)
            .all(|w| w[1].stream_position == w[0].stream_position + 1)
}

/// The result the original append answered, rebuilt from its stored events (non-empty).
pub fn result_of(events: &[&ReadEvent]) -> AppendResult {
    let first = events[0];
    let last = events[events.len() - 1];
    AppendResult {
        stream_id: first.stream_id.clone(),
        created_new_stream: first.stream_position == 1,
        events_appended: events.len() as u64,
        current_stream_version: last.stream_position,
        next_expected_stream_version: last.stream_position,
        global_position: last.global_position,
        events: events.iter().map(|e| (*e).clone()).collect(),
    }
}

#[cfg(test)]
mod tests;
