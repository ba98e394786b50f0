use serde_json::json;
use shared_domain::event::ExpectedStreamVersion;
use shared_domain::wire::AppendRequest;

use super::*;
use crate::model::StreamId;

fn append(stream: &str, expected: ExpectedStreamVersion, n: usize) -> ValidAppend {
    let events: Vec<_> = (0..n).map(|_| json!({"type": "t.x", "data": {}})).collect();
    let request: AppendRequest =
        serde_json::from_value(json!({"events": events, "expectedStreamVersion": expected}))
            .unwrap();
    ValidAppend::parse(StreamId::parse(stream).unwrap(), request, None, 1000).unwrap()
}

fn keyed(stream: &str, key: &str, data: i64) -> ValidAppend {
    let request: AppendRequest = serde_json::from_value(
        json!({"events": [{"type": "t.x", "data": {"v": data}}], "idempotencyKey": key}),
    )
    .unwrap();
    ValidAppend::parse(StreamId::parse(stream).unwrap(), request, None, 1000).unwrap()
}

fn with_ids(stream: &str, ids: &[Uuid]) -> ValidAppend {
    let events: Vec<_> = ids
        .iter()
        .map(|id| json!({"type": "t.x", "data": {}, "eventId": id}))
        .collect();
    let request: AppendRequest = serde_json::from_value(json!({"events": events})).unwrap();
    ValidAppend::parse(StreamId::parse(stream).unwrap(), request, None, 1000).unwrap()
}

fn stored_event(stream: &str, position: u64, global: u64, id: Uuid) -> ReadEvent {
    ReadEvent {
        stream_id: stream.to_owned(),
        stream_position: position,
        global_position: global,
        event_id: id,
        event_type: "t.x".to_owned(),
        data: json!({}),
        metadata: None,
        schema_version: 1,
        transaction_id: Uuid::nil().to_string(),
        created_at: chrono::Utc::now(),
    }
}

fn versions(pairs: &[(&str, u64)]) -> Snapshot {
    Snapshot {
        stream_versions: pairs.iter().map(|(s, v)| ((*s).to_owned(), *v)).collect(),
        ..Snapshot::default()
    }
}

#[test]
fn appends_to_one_stream_in_a_batch_follow_each_other() {
    let (a, b) = (
        append("s", ExpectedStreamVersion::Any, 2),
        append("s", ExpectedStreamVersion::Any, 3),
    );
    let plan = plan(&[&a, &b], &versions(&[("s", 4)]));
    assert!(matches!(
        plan.decisions[0],
        Decision::Write {
            first_stream_position: 5,
            offset: 0,
            created_new_stream: false,
            ..
        }
    ));
    assert!(matches!(
        plan.decisions[1],
        Decision::Write {
            first_stream_position: 7,
            offset: 2,
            created_new_stream: false,
            ..
        }
    ));
    assert_eq!(plan.total_events, 5);
    assert_eq!(plan.final_versions, vec![("s".to_owned(), 9)]);
}

#[test]
fn only_the_first_of_two_appends_expecting_the_same_version_is_written() {
    let (a, b) = (
        append("s", ExpectedStreamVersion::Exact(1), 1),
        append("s", ExpectedStreamVersion::Exact(1), 1),
    );
    let plan = plan(&[&a, &b], &versions(&[("s", 1)]));
    assert!(matches!(plan.decisions[0], Decision::Write { .. }));
    assert_eq!(
        plan.decisions[1],
        Decision::Reject(StoreError::VersionConflict {
            stream_id: "s".to_owned(),
            expected: ExpectedStreamVersion::Exact(1),
            current: Some(2),
        })
    );
    assert_eq!(plan.total_events, 1);
}

#[test]
fn each_expected_version_mode_is_checked_against_the_running_version() {
    let new = append("n", ExpectedStreamVersion::NoStream, 1);
    let again = append("n", ExpectedStreamVersion::NoStream, 1);
    let exists = append("n", ExpectedStreamVersion::StreamExists, 1);
    let missing = append("m", ExpectedStreamVersion::StreamExists, 1);
    let plan = plan(&[&new, &again, &exists, &missing], &Snapshot::default());
    assert!(matches!(
        plan.decisions[0],
        Decision::Write {
            created_new_stream: true,
            ..
        }
    ));
    assert!(matches!(
        plan.decisions[1],
        Decision::Reject(StoreError::VersionConflict { .. })
    ));
    assert!(matches!(
        plan.decisions[2],
        Decision::Write {
            first_stream_position: 2,
            created_new_stream: false,
            ..
        }
    ));
    assert!(matches!(
        plan.decisions[3],
        Decision::Reject(StoreError::VersionConflict { .. })
    ));
    assert_eq!(plan.new_streams, 1);
}

#[test]
fn a_stored_key_with_the_same_request_replays_and_with_another_is_refused() {
    let first = keyed("s", "k", 1);
    let original = result_of(&[&stored_event("s", 1, 1, Uuid::new_v4())]);
    let mut snapshot = versions(&[("s", 1)]);
    snapshot.idempotency.insert(
        ("s".to_owned(), "k".to_owned()),
        (
            first.idempotency.clone().unwrap().request_hash,
            original.clone(),
        ),
    );
    let other = keyed("s", "k", 2);
    let plan = plan(&[&first, &other], &snapshot);
    assert_eq!(plan.decisions[0], Decision::Replay(original));
    assert!(matches!(
        plan.decisions[1],
        Decision::Reject(StoreError::IdempotencyKeyReused { .. })
    ));
    assert_eq!(plan.total_events, 0);
}

#[test]
fn the_same_key_twice_in_one_batch_is_written_once() {
    let (a, b, c) = (keyed("s", "k", 1), keyed("s", "k", 1), keyed("s", "k", 2));
    let plan = plan(&[&a, &b, &c], &Snapshot::default());
    assert!(matches!(plan.decisions[0], Decision::Write { .. }));
    assert_eq!(plan.decisions[1], Decision::SameAs(0));
    assert!(matches!(
        plan.decisions[2],
        Decision::Reject(StoreError::IdempotencyKeyReused { .. })
    ));
}

#[test]
fn stored_event_ids_replay_the_original_append() {
    let ids = [Uuid::new_v4(), Uuid::new_v4()];
    let retry = with_ids("s", &ids);
    let mut snapshot = versions(&[("s", 3)]);
    snapshot
        .events_by_id
        .insert(ids[0], stored_event("s", 2, 10, ids[0]));
    snapshot
        .events_by_id
        .insert(ids[1], stored_event("s", 3, 11, ids[1]));
    let plan = plan(&[&retry], &snapshot);
    let Decision::Replay(result) = &plan.decisions[0] else {
        panic!("{:?}", plan.decisions[0]);
    };
    assert_eq!(result.current_stream_version, 3);
    assert_eq!(result.global_position, 11);
    assert!(!result.created_new_stream);
}

#[test]
fn a_partial_overlap_of_event_ids_is_refused() {
    let ids = [Uuid::new_v4(), Uuid::new_v4()];
    let retry = with_ids("s", &ids);
    let elsewhere = with_ids("other", &ids[..1]);
    let mut snapshot = versions(&[("s", 1)]);
    snapshot
        .events_by_id
        .insert(ids[0], stored_event("s", 1, 1, ids[0]));
    let plan = plan(&[&retry, &elsewhere], &snapshot);
    assert!(matches!(
        plan.decisions[0],
        Decision::Reject(StoreError::DuplicateEventId { .. })
    ));
    assert!(matches!(
        plan.decisions[1],
        Decision::Reject(StoreError::DuplicateEventId { .. })
    ));
}

#[test]
fn the_same_event_ids_twice_in_one_batch_are_written_once() {
    let ids = [Uuid::new_v4()];
    let (a, b) = (with_ids("s", &ids), with_ids("s", &ids));
    let plan = plan(&[&a, &b], &Snapshot::default());
    assert!(matches!(plan.decisions[0], Decision::Write { .. }));
    assert_eq!(plan.decisions[1], Decision::SameAs(0));
    assert_eq!(plan.total_events, 1);
}

#[test]
fn the_same_event_ids_to_another_stream_in_one_batch_are_refused() {
    let ids = [Uuid::new_v4()];
    let (a, b) = (with_ids("s", &ids), with_ids("t", &ids));
    let plan = plan(&[&a, &b], &Snapshot::default());
    assert!(matches!(plan.decisions[0], Decision::Write { .. }));
    assert!(
        matches!(
            plan.decisions[1],
            Decision::Reject(StoreError::DuplicateEventId { .. })
        ),
        "{:?}",
        plan.decisions[1]
    );
    assert_eq!(plan.total_events, 1);
}
