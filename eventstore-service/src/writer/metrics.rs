//! The writer's own metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter};
use shared_domain::service::Metrics;

/// Counters and histograms of the group-commit writers of one replica.
pub(super) struct WriterMetrics {
    /// `eventstore_append_batches_total`: group-commit transactions run.
    pub batches: IntCounter,
    /// `eventstore_append_batch_appends`: appends per batch.
    pub batch_appends: Histogram,
    /// `eventstore_append_batch_seconds`: time from a batch's start (waiting for a pooled
    /// connection included) to its durable commit.
    pub batch_seconds: Histogram,
    /// `eventstore_events_appended_total`: events written.
    pub events: IntCounter,
    /// `eventstore_append_collisions_total`: batches re-run after another replica's write.
    pub collisions: IntCounter,
    /// `eventstore_append_stale_predictions_total`: predicted batches that collided and were
    /// read and written again.
    pub stale_predictions: IntCounter,
    /// `eventstore_append_conflicts_total`: appends refused with `StreamVersionConflict`.
    pub conflicts: IntCounter,
}

impl WriterMetrics {
    pub fn new(metrics: &Metrics) -> Self {
        fn counter(metrics: &Metrics, name: &str, help: &str) -> IntCounter {
            let counter = IntCounter::new(name, help).expect("a valid metric name");
            metrics.register(counter.clone()).unwrap_or(counter)
        }
        let histogram = Histogram::with_opts(
            HistogramOpts::new(
                "eventstore_append_batch_appends",
                "Appends per group commit",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1000.0,
            ]),
        )
        .expect("a valid metric");
        let seconds = Histogram::with_opts(
            HistogramOpts::new(
                "eventstore_append_batch_seconds",
                "Time of a group commit, from its start (waiting for a connection included) to the durable commit",
            )
            .buckets(vec![
                0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )
        .expect("a valid metric");
        Self {
            batch_seconds: metrics.register(seconds.clone()).unwrap_or(seconds),
            batches: counter(
                metrics,
                "eventstore_append_batches_total",
                "Group-commit transactions run",
            ),
            batch_appends: metrics.register(histogram.clone()).unwrap_or(histogram),
            events: counter(
                metrics,
                "eventstore_events_appended_total",
                "Events written",
            ),
            collisions: counter(
                metrics,
                "eventstore_append_collisions_total",
                "Batches re-run under the lock after another replica wrote meanwhile",
            ),
            stale_predictions: counter(
                metrics,
                "eventstore_append_stale_predictions_total",
                "Batches written without a read whose prediction was stale (then read and written again)",
            ),
            conflicts: counter(
                metrics,
                "eventstore_append_conflicts_total",
                "Appends refused because the stream was not at the expected version",
            ),
        }
    }
}
