//! [`ProjectionMetrics`]: the projection's own Prometheus metrics, next to the kit's HTTP metrics
//! in the same registry.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
use shared_domain::service::Metrics;

use crate::projector::ApplyReport;

/// Counters of what deliveries and rebuilds did. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ProjectionMetrics {
    /// `projection_events_applied_total`: events that changed the read models.
    applied: IntCounter,
    /// `projection_events_duplicate_total`: events already applied (duplicate deliveries).
    duplicates: IntCounter,
    /// `projection_events_skipped_total`: events of types no projection handles.
    skipped: IntCounter,
    /// `projection_batches_failed_total{reason}`: deliveries answered with an error.
    failed: IntCounterVec,
    /// `projection_batch_duration_seconds`: time to apply one delivery.
    batch_duration: Histogram,
    /// `projection_checkpoint`: the live checkpoint after this replica's last batch.
    checkpoint: IntGauge,
}

impl ProjectionMetrics {
    /// Registers the metrics in `metrics`' registry.
    pub fn register(metrics: &Metrics) -> prometheus::Result<Self> {
        Ok(Self {
            applied: metrics.register(IntCounter::new(
                "projection_events_applied_total",
                "Events that changed the read models",
            )?)?,
            duplicates: metrics.register(IntCounter::new(
                "projection_events_duplicate_total",
                "Events skipped because they were applied before (duplicate delivery)",
            )?)?,
            skipped: metrics.register(IntCounter::new(
                "projection_events_skipped_total",
                "Events of types no projection handles",
            )?)?,
            failed: metrics.register(IntCounterVec::new(
                Opts::new(
                    "projection_batches_failed_total",
                    "Deliveries answered with an error, by reason",
                ),
                &["reason"],
            )?)?,
            batch_duration: metrics.register(Histogram::with_opts(
                HistogramOpts::new(
                    "projection_batch_duration_seconds",
                    "Time to apply one delivered batch to Redis",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                ]),
            )?)?,
            checkpoint: metrics.register(IntGauge::new(
                "projection_checkpoint",
                "Live checkpoint (last global position applied) after this replica's last batch",
            )?)?,
        })
    }

    /// Records a batch that went in.
    pub fn batch_applied(&self, report: &ApplyReport, elapsed: Duration) {
        self.applied.inc_by(report.applied as u64);
        self.duplicates.inc_by(report.duplicates as u64);
        self.skipped.inc_by(report.skipped as u64);
        self.batch_duration.observe(elapsed.as_secs_f64());
        self.checkpoint
            .set(i64::try_from(report.checkpoint).unwrap_or(i64::MAX));
    }

    /// Records a batch answered with an error (`reason`: a bounded label value).
    pub fn batch_failed(&self, reason: &'static str) {
        self.failed.with_label_values(&[reason]).inc();
    }
}
