//! What one store's writer has learned of its streams' versions, so that a batch whose outcome
//! can be predicted from it is written in ONE round trip, with no read before it
//! ([`commit::write_predicted`](super::commit::write_predicted)).
//!
//! Why a prediction is safe: stream positions are contiguous (every write at position p > 1 was
//! planned against a committed version p − 1), versions never go down, and
//! `UNIQUE (store_id, stream_id, stream_position)` refuses a second row at a position. So a
//! version learned from a commit is, under normal operation, only ever stale low: the write at
//! "known version + 1" would collide with the row another replica wrote there. The predicted
//! statement also checks every written stream's `streams.version` against the prediction before
//! it takes the counter lock, which refuses a stale-low prediction without an error and a
//! stale-HIGH one too (the database lost commits the writer saw: a failover to an asynchronous
//! standby, a restore), which no unique key would catch. Either way nothing is written and the
//! batch takes the reading path.
//!
//! A stream the writer does not know is predicted new only for a `no_stream` append (position 1
//! collides if it exists); any other first append to an unknown stream reads. Idempotency keys
//! and client-chosen event ids need no lookup: their unique keys refuse a repeat, and the
//! reading path then answers it with the original result.
//!
//! A store deleted and created again gets a new id: the prediction's counter update then finds
//! no row, and the reading path learns the new id (which forgets the old versions).

use std::collections::HashMap;

use super::plan::Snapshot;
use crate::model::ValidAppend;

/// Streams remembered per store and replica; beyond this the map starts over (a miss only costs
/// the read that every batch paid without it).
const CAPACITY: usize = 100_000;

/// The store's id and the last committed version of streams it wrote or read.
#[derive(Debug, Default)]
pub struct KnownVersions {
    store_id: Option<i32>,
    versions: HashMap<String, u64>,
}

impl KnownVersions {
    /// The store's id and the known versions of `batch`'s streams, as the snapshot a prediction
    /// is planned against; `None` before the store's id is known.
    pub fn snapshot(&self, batch: &[&ValidAppend]) -> Option<(i32, Snapshot)> {
        let store_id = self.store_id?;
        let mut snapshot = Snapshot::default();
        for append in batch {
            let stream = append.stream_id.as_str();
            if let Some(&version) = self.versions.get(stream) {
                snapshot.stream_versions.insert(stream.to_owned(), version);
            }
        }
        Some((store_id, snapshot))
    }

    /// Records committed versions of `store_id`'s streams (another id than before: the store was
    /// created again, and what was known of the old one is dropped).
    pub fn learn<'a>(&mut self, store_id: i32, versions: impl IntoIterator<Item = (&'a str, u64)>) {
        if self.store_id != Some(store_id) {
            self.versions.clear();
            self.store_id = Some(store_id);
        }
        for (stream, version) in versions {
            if self.versions.len() >= CAPACITY && !self.versions.contains_key(stream) {
                self.versions.clear();
            }
            let known = self.versions.entry(stream.to_owned()).or_default();
            *known = (*known).max(version);
        }
    }

    /// Forgets everything: the store's id may have changed.
    pub fn forget(&mut self) {
        self.store_id = None;
        self.versions.clear();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared_domain::wire::AppendRequest;

    use super::*;
    use crate::model::StreamId;

    fn append(stream: &str) -> ValidAppend {
        let request: AppendRequest =
            serde_json::from_value(json!({"events": [{"type": "t", "data": {}}]})).unwrap();
        ValidAppend::parse(StreamId::parse(stream).unwrap(), request, None, 10).unwrap()
    }

    #[test]
    fn nothing_is_predicted_before_the_store_id_is_known() {
        let known = KnownVersions::default();
        assert!(known.snapshot(&[&append("a")]).is_none());
    }

    #[test]
    fn the_snapshot_holds_the_known_versions_of_the_batch_streams_only() {
        let mut known = KnownVersions::default();
        known.learn(7, [("a", 3), ("b", 5)]);
        let (a, c) = (append("a"), append("c"));
        let (store_id, snapshot) = known.snapshot(&[&a, &c]).unwrap();
        assert_eq!(store_id, 7);
        assert_eq!(
            snapshot.stream_versions,
            HashMap::from([("a".to_owned(), 3)])
        );
        assert!(snapshot.idempotency.is_empty() && snapshot.events_by_id.is_empty());
    }

    #[test]
    fn a_version_never_goes_down() {
        let mut known = KnownVersions::default();
        known.learn(1, [("a", 4)]);
        known.learn(1, [("a", 2)]);
        let a = append("a");
        assert_eq!(known.snapshot(&[&a]).unwrap().1.stream_versions["a"], 4);
    }

    #[test]
    fn another_store_id_or_forget_drops_what_was_known() {
        let mut known = KnownVersions::default();
        known.learn(1, [("a", 4)]);
        known.learn(2, [("b", 1)]);
        let a = append("a");
        let (store_id, snapshot) = known.snapshot(&[&a]).unwrap();
        assert_eq!(store_id, 2);
        assert!(snapshot.stream_versions.is_empty());
        known.forget();
        assert!(known.snapshot(&[&a]).is_none());
    }

    #[test]
    fn the_map_starts_over_beyond_its_capacity() {
        let mut known = KnownVersions::default();
        let names: Vec<String> = (0..=CAPACITY).map(|i| format!("s{i}")).collect();
        known.learn(1, names.iter().map(|n| (n.as_str(), 1)));
        assert_eq!(known.versions.len(), 1);
        assert!(known.versions.contains_key(&format!("s{CAPACITY}")));
    }
}
