//! Per-subscription metrics, in the service's registry: events delivered, failed attempts, lag,
//! time of the last success. Labels: `store`, `subscription` (bounded by the subscriptions).

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts};
use shared_domain::service::Metrics;

/// The delivery metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DeliveryMetrics {
    delivered: IntCounterVec,
    failed: IntCounterVec,
    lag: IntGaugeVec,
    last_success: GaugeVec,
}

const LABELS: &[&str] = &["store", "subscription"];

impl DeliveryMetrics {
    /// Registers the metrics in `metrics` (a second registration in the same registry is logged
    /// and the metric kept unregistered, so it never fails a start).
    pub fn new(metrics: &Metrics) -> Self {
        fn register<C: prometheus::core::Collector + Clone + 'static>(m: &Metrics, c: C) -> C {
            if let Err(e) = m.register(c.clone()) {
                tracing::warn!(error = %e, "cannot register a delivery metric");
            }
            c
        }
        let opts = |name: &str, help: &str| Opts::new(name, help);
        Self {
            delivered: register(
                metrics,
                IntCounterVec::new(
                    opts(
                        "eventstore_subscription_events_delivered_total",
                        "Events acknowledged (2xx) by a subscription's webhook",
                    ),
                    LABELS,
                )
                .expect("valid metric"),
            ),
            failed: register(
                metrics,
                IntCounterVec::new(
                    opts(
                        "eventstore_subscription_failed_attempts_total",
                        "Webhook delivery attempts that did not end in a 2xx",
                    ),
                    LABELS,
                )
                .expect("valid metric"),
            ),
            lag: register(
                metrics,
                IntGaugeVec::new(
                    opts(
                        "eventstore_subscription_lag_events",
                        "Events in the store after the subscription's checkpoint",
                    ),
                    LABELS,
                )
                .expect("valid metric"),
            ),
            last_success: register(
                metrics,
                GaugeVec::new(
                    opts(
                        "eventstore_subscription_last_success_timestamp_seconds",
                        "Unix time of the subscription's last acknowledged delivery",
                    ),
                    LABELS,
                )
                .expect("valid metric"),
            ),
        }
    }

    pub fn delivered(&self, store: &str, subscription: &str, events: usize) {
        self.delivered
            .with_label_values(&[store, subscription])
            .inc_by(events as u64);
        self.last_success
            .with_label_values(&[store, subscription])
            .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
    }

    pub fn failed(&self, store: &str, subscription: &str) {
        self.failed.with_label_values(&[store, subscription]).inc();
    }

    pub fn lag(&self, store: &str, subscription: &str, lag: u64) {
        self.lag
            .with_label_values(&[store, subscription])
            .set(i64::try_from(lag).unwrap_or(i64::MAX));
    }

    /// Drops the lag gauge when this replica stops delivering a subscription (another replica
    /// reports it now; a stale value here would mislead).
    pub fn clear_lag(&self, store: &str, subscription: &str) {
        let _ = self.lag.remove_label_values(&[store, subscription]);
    }

    /// Drops a deleted subscription's series.
    pub fn forget(&self, store: &str, subscription: &str) {
        let labels = [store, subscription];
        let _ = self.delivered.remove_label_values(&labels);
        let _ = self.failed.remove_label_values(&labels);
        let _ = self.lag.remove_label_values(&labels);
        let _ = self.last_success.remove_label_values(&labels);
    }
}
