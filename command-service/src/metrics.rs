//! The command service's own metrics, registered in the kit's [`Metrics`] registry next to the
//! shared HTTP metrics:
//!
//! * `commands_total{command, outcome}`: commands by type (`order.place`, …) and outcome
//!   (`success`, `replayed`, `invalid`, `not_found`, `illegal_state`, `conflict`,
//!   `idempotency_key_reused`, `precondition_failed`, `unavailable`, `timeout`, `error`);
//! * `command_duration_seconds{command, outcome}`: time from parsed request to answer;
//! * `command_attempts{command}`: read-decide-append rounds per successful command (above 1 means
//!   concurrent writers on the same order).

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use shared_domain::service::Metrics;

/// Latency buckets in seconds: a command is two HTTP hops and two PostgreSQL round trips, so
/// the interesting range is 1 ms to a few seconds (time-outs).
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Handles to the command metrics. Cheap to clone.
#[derive(Clone)]
pub struct CommandMetrics {
    commands_total: IntCounterVec,
    command_duration_seconds: HistogramVec,
    command_attempts: HistogramVec,
}

impl std::fmt::Debug for CommandMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommandMetrics")
    }
}

impl CommandMetrics {
    /// Registers the command metrics in `metrics`.
    pub fn register(metrics: &Metrics) -> prometheus::Result<Self> {
        Ok(Self {
            commands_total: metrics.register(IntCounterVec::new(
                Opts::new("commands_total", "Commands handled, by type and outcome"),
                &["command", "outcome"],
            )?)?,
            command_duration_seconds: metrics.register(HistogramVec::new(
                HistogramOpts::new(
                    "command_duration_seconds",
                    "Time to handle a command, by type and outcome",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &["command", "outcome"],
            )?)?,
            command_attempts: metrics.register(HistogramVec::new(
                HistogramOpts::new(
                    "command_attempts",
                    "Read-decide-append rounds per successful command",
                )
                .buckets(vec![1.0, 2.0, 3.0, 4.0, 5.0, 10.0]),
                &["command"],
            )?)?,
        })
    }

    /// Records one handled command.
    pub fn observe(&self, command: &str, outcome: &str, elapsed: Duration, attempts: Option<u32>) {
        let labels = [command, outcome];
        self.commands_total.with_label_values(&labels).inc();
        self.command_duration_seconds
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
        if let Some(attempts) = attempts {
            self.command_attempts
                .with_label_values(&[command])
                .observe(f64::from(attempts));
        }
    }
}
