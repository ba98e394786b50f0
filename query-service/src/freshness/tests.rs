//! The waiting logic with a fake read and paused time (the Redis side is covered by the
//! integration tests).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use shared_domain::service::Metrics;

use super::subscription::parse_message;
use super::*;

fn watch() -> CheckpointWatch {
    CheckpointWatch::new(QueryMetrics::register(&Metrics::new("test")).unwrap())
}

/// A read model whose checkpoint the test moves; counts the reads made.
#[derive(Clone, Default)]
struct FakeModel {
    checkpoint: Arc<AtomicU64>,
    reads: Arc<AtomicUsize>,
}

impl FakeModel {
    fn at(checkpoint: u64) -> Self {
        let model = Self::default();
        model.checkpoint.store(checkpoint, Ordering::SeqCst);
        model
    }

    fn read(&self) -> impl Future<Output = Result<Read<()>, StoreError>> + use<> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let checkpoint = self.checkpoint.load(Ordering::SeqCst);
        async move {
            Ok(Read {
                generation: "g0".to_owned(),
                checkpoint,
                value: (),
            })
        }
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

fn demand(min_position: u64, wait_ms: u64) -> Option<Freshness> {
    Some(Freshness {
        min_position,
        wait: Duration::from_millis(wait_ms),
    })
}

#[tokio::test(start_paused = true)]
async fn a_read_without_demand_answers_at_once() {
    let (watch, model) = (watch(), FakeModel::at(3));
    let read = watch.read_at_least(None, || model.read()).await.unwrap();
    assert_eq!(read.checkpoint, 3);
    assert_eq!(model.reads(), 1);
    assert_eq!(watch.latest(), 3, "every read feeds the watch");
}

#[tokio::test(start_paused = true)]
async fn a_demand_already_met_answers_without_waiting() {
    let (watch, model) = (watch(), FakeModel::at(10));
    let started = Instant::now();
    let read = watch
        .read_at_least(demand(10, 1000), || model.read())
        .await
        .unwrap();
    assert_eq!(read.checkpoint, 10);
    assert_eq!(model.reads(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(watch.inner.metrics.waits.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_wait_is_released_when_the_checkpoint_reaches_the_position() {
    let (watch, model) = (watch(), FakeModel::at(4));
    let projection = {
        let (watch, model) = (watch.clone(), model.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            model.checkpoint.store(6, Ordering::SeqCst);
            watch.observe(6); // not yet enough: nobody should re-read
            tokio::time::sleep(Duration::from_millis(100)).await;
            model.checkpoint.store(9, Ordering::SeqCst);
            watch.observe(9);
        }
    };
    let started = Instant::now();
    let (read, ()) = tokio::join!(
        watch.read_at_least(demand(8, 1000), || model.read()),
        projection
    );
    assert_eq!(read.unwrap().checkpoint, 9);
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert_eq!(
        model.reads(),
        2,
        "one read before waiting, one after the release"
    );
    assert_eq!(watch.inner.metrics.waits.get(), 1);
    assert_eq!(watch.inner.metrics.wait_timeouts.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_wait_runs_out_at_its_bound() {
    let (watch, model) = (watch(), FakeModel::at(4));
    let started = Instant::now();
    let error = watch
        .read_at_least(demand(5, 300), || model.read())
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    match error {
        FreshnessError::NotReached {
            wanted, reached, ..
        } => assert_eq!((wanted, reached), (5, 4)),
        other => panic!("expected NotReached, got {other:?}"),
    }
    assert_eq!(model.reads(), 1, "no polling while waiting");
    assert_eq!(watch.inner.metrics.wait_timeouts.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_watch_ahead_of_the_data_does_not_spin() {
    // The watch says 9 but the live data is at 4 (e.g. a message about another generation was
    // taken for the live one): the waiter re-reads once, then sleeps until the next change.
    let (watch, model) = (watch(), FakeModel::at(4));
    watch.observe(9);
    let error = watch
        .read_at_least(demand(5, 300), || model.read())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        FreshnessError::NotReached { reached: 4, .. }
    ));
    assert_eq!(model.reads(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_zero_wait_checks_once() {
    let (watch, model) = (watch(), FakeModel::at(1));
    assert!(
        watch
            .read_at_least(demand(2, 0), || model.read())
            .await
            .is_err()
    );
    assert_eq!(model.reads(), 1);
}

#[test]
fn the_watch_only_rises() {
    let watch = watch();
    watch.observe(5);
    watch.observe(3);
    assert_eq!(watch.latest(), 5);
}

#[test]
fn messages_parse_as_generation_and_position() {
    assert_eq!(parse_message("g1 42"), Some(("g1", 42)));
    assert_eq!(parse_message("g0 0\n"), Some(("g0", 0)));
    assert_eq!(parse_message("g1"), None);
    assert_eq!(parse_message("g1 x"), None);
}
