use std::sync::Arc;

use serde_json::json;
use shared_domain::service::Metrics;
use shared_domain::wire::AppendRequest;
use tokio::sync::oneshot;

use super::*;
use crate::Config;
use crate::model::StreamId;
use crate::writer::metrics::WriterMetrics;

type Answer = oneshot::Receiver<Result<AppendResult, StoreError>>;

fn writer(batch_max_events: usize) -> (Writer, Queue) {
    waiting_writer(batch_max_events, Duration::ZERO)
}

fn waiting_writer(batch_max_events: usize, batch_wait: Duration) -> (Writer, Queue) {
    let config = Config::for_database("postgres://nobody@127.0.0.1:1/none");
    let shared = Arc::new(Shared {
        pool: crate::db::pool(&config).unwrap(),
        batch_max_events,
        batches_in_flight: 4,
        batch_wait,
        metrics: WriterMetrics::new(&Metrics::new("test")),
    });
    let (sender, receiver) = Queue::new();
    let writer = Writer {
        shared,
        queues: Weak::new(),
        store: StoreName::parse("store").unwrap(),
        known: Default::default(),
        receiver,
        gate: sender.gate.clone(),
        held: VecDeque::new(),
        busy: HashMap::new(),
        closed: false,
        expected: 0,
        gather_until: None,
    };
    (writer, sender)
}

fn job(stream: &str, events: usize) -> (Job, Answer) {
    let events: Vec<_> = (0..events)
        .map(|_| json!({"type": "t", "data": {}}))
        .collect();
    let request: AppendRequest = serde_json::from_value(json!({ "events": events })).unwrap();
    let append = ValidAppend::parse(StreamId::parse(stream).unwrap(), request, None, 1000).unwrap();
    let (reply, answer) = oneshot::channel();
    (Job { append, reply }, answer)
}

fn streams_of(batch: &[Job]) -> Vec<&str> {
    batch.iter().map(stream).collect()
}

#[tokio::test]
async fn a_batch_takes_everything_queued_within_the_bounds() {
    let (mut writer, queue) = writer(5);
    let mut answers = Vec::new();
    for (name, n) in [("a", 2), ("b", 2), ("c", 2), ("d", 1)] {
        let (job, answer) = job(name, n);
        answers.push(answer);
        queue.send(job).await.unwrap();
    }

    let (first, streams) = writer.next_batch().unwrap();

    assert_eq!(streams_of(&first), vec!["a", "b"]);
    assert_eq!(streams, vec!["a", "b"]);
    let (second, _) = writer.next_batch().unwrap();
    assert_eq!(streams_of(&second), vec!["c", "d"]);
    assert!(writer.next_batch().is_none());
}

#[tokio::test]
async fn an_append_to_a_stream_in_flight_waits_and_keeps_its_order() {
    let (mut writer, queue) = writer(100);
    writer
        .busy
        .insert(tokio::spawn(async {}).id(), vec!["busy".to_owned()]);
    let mut answers = Vec::new();
    for name in ["busy", "free", "busy", "other"] {
        let (job, answer) = job(name, 1);
        answers.push(answer);
        queue.send(job).await.unwrap();
    }

    let (batch, _) = writer.next_batch().unwrap();

    assert_eq!(streams_of(&batch), vec!["free", "other"]);
    assert_eq!(writer.held.len(), 2);
    // Once the batch in flight is done, both appends of the stream go, in order.
    writer.busy.clear();
    let (batch, streams) = writer.next_batch().unwrap();
    assert_eq!(streams_of(&batch), vec!["busy", "busy"]);
    assert_eq!(streams, vec!["busy"]);
}

#[tokio::test]
async fn appends_whose_caller_went_away_are_dropped() {
    let (mut writer, queue) = writer(100);
    let (gone, answer) = job("a", 1);
    drop(answer);
    queue.send(gone).await.unwrap();
    let (kept, _answer) = job("b", 1);
    queue.send(kept).await.unwrap();

    let (batch, _) = writer.next_batch().unwrap();

    assert_eq!(streams_of(&batch), vec!["b"]);
}

#[tokio::test(start_paused = true)]
async fn after_a_batch_the_next_waits_briefly_for_the_callers_due_back() {
    // Arrange: a batch of 2 just ended with 1 append queued meanwhile: 3 are expected.
    let (mut writer, queue) = waiting_writer(100, Duration::from_millis(10));
    let (queued, _a) = job("a", 1);
    queue.send(queued).await.unwrap();
    writer.expect_after(2);
    let late = tokio::spawn(async move {
        let mut answers = Vec::new();
        for name in ["b", "c"] {
            tokio::time::sleep(Duration::from_millis(3)).await;
            let (job, answer) = job(name, 1);
            answers.push(answer);
            queue.send(job).await.unwrap();
        }
        answers
    });

    // Act
    let started = tokio::time::Instant::now();
    writer.gather().await;

    // Assert: it went as soon as all three were there (queued for the next batch), before the
    // deadline: woken by the appender of the third.
    let waited = started.elapsed();
    let _answers = late.await.unwrap();
    assert_eq!(writer.held.len() + writer.receiver.len(), 3);
    assert!(waited < Duration::from_millis(10), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn the_wait_for_appends_that_do_not_come_is_bounded() {
    let (mut writer, queue) = waiting_writer(100, Duration::from_millis(1));
    writer.expect_after(5);

    let started = tokio::time::Instant::now();
    writer.gather().await;

    assert_eq!(started.elapsed(), Duration::from_millis(1));
    assert!(writer.held.is_empty());
    drop(queue);
}

#[tokio::test(start_paused = true)]
async fn a_lone_caller_never_waits() {
    let (mut writer, _queue) = waiting_writer(100, Duration::from_millis(1));

    writer.expect_after(1);

    assert!(writer.gather_until.is_none());
}
