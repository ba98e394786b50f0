//! [`QueryMetrics`]: the query service's own Prometheus metrics, next to the kit's HTTP metrics
//! in the same registry.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
use shared_domain::service::Metrics;

use crate::store::cache::CacheCounters;

/// Endpoint label values (bounded, as Prometheus labels must be).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Order,
    Orders,
    CustomerOrders,
    Analytics,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Orders => "orders",
            Self::CustomerOrders => "customer_orders",
            Self::Analytics => "analytics",
        }
    }
}

/// Outcome label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with data.
    Hit,
    /// 404: no such order.
    NotFound,
    /// 304: the client's copy is current.
    NotModified,
    /// 400: bad parameters.
    Invalid,
    /// 503: Redis down or slow, or read-your-writes timed out.
    Unavailable,
    /// 500.
    Error,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::NotFound => "not_found",
            Self::NotModified => "not_modified",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }

    /// The outcome an HTTP status stands for.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Hit,
            304 => Self::NotModified,
            404 => Self::NotFound,
            400..=499 => Self::Invalid,
            503 => Self::Unavailable,
            _ => Self::Error,
        }
    }
}

/// The service's own metrics. Cheap to clone.
#[derive(Clone)]
pub struct QueryMetrics {
    /// `query_reads_total{endpoint,outcome}`: reads answered, by endpoint and outcome.
    reads: IntCounterVec,
    /// `query_read_your_writes_waits_total`: reads that had to wait for the projection.
    pub waits: IntCounter,
    /// `query_read_your_writes_timeouts_total`: waits that ran out (answered 503).
    pub wait_timeouts: IntCounter,
    /// `query_read_your_writes_wait_seconds`: how long waits took, released or not.
    pub wait_seconds: Histogram,
    /// `query_projection_checkpoint`: the live generation's checkpoint, as last seen.
    pub checkpoint: IntGauge,
    /// `query_checkpoint_subscription_up`: 1 while the pub/sub subscription is connected.
    pub subscription_up: IntGauge,
    /// `query_cache_reads_total{result}`: summary lookups in the process cache, hit or miss.
    pub cache: CacheCounters,
    /// `query_cache_up`: 1 while the cache receives invalidations (and so is used).
    pub cache_up: IntGauge,
}

impl std::fmt::Debug for QueryMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryMetrics").finish_non_exhaustive()
    }
}

impl QueryMetrics {
    /// Creates the metrics and registers them in `metrics`' registry.
    pub fn register(metrics: &Metrics) -> prometheus::Result<Self> {
        Ok(Self {
            reads: metrics.register(IntCounterVec::new(
                Opts::new(
                    "query_reads_total",
                    "Reads answered, by endpoint and outcome",
                ),
                &["endpoint", "outcome"],
            )?)?,
            waits: metrics.register(IntCounter::new(
                "query_read_your_writes_waits_total",
                "Reads that waited for the projection to reach minGlobalPosition",
            )?)?,
            wait_timeouts: metrics.register(IntCounter::new(
                "query_read_your_writes_timeouts_total",
                "Read-your-writes waits that ran out and answered 503",
            )?)?,
            wait_seconds: metrics.register(Histogram::with_opts(
                HistogramOpts::new(
                    "query_read_your_writes_wait_seconds",
                    "Time read-your-writes reads waited",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
            )?)?,
            checkpoint: metrics.register(IntGauge::new(
                "query_projection_checkpoint",
                "Checkpoint (global position) of the live read-model generation, as last seen",
            )?)?,
            subscription_up: metrics.register(IntGauge::new(
                "query_checkpoint_subscription_up",
                "1 while the checkpoint pub/sub subscription is connected",
            )?)?,
            cache: {
                let lookups = metrics.register(IntCounterVec::new(
                    Opts::new(
                        "query_cache_reads_total",
                        "Order-summary lookups in the process cache, by result (hit or miss)",
                    ),
                    &["result"],
                )?)?;
                CacheCounters {
                    hits: lookups.with_label_values(&["hit"]),
                    misses: lookups.with_label_values(&["miss"]),
                }
            },
            cache_up: metrics.register(IntGauge::new(
                "query_cache_up",
                "1 while the summary cache receives Redis invalidations (and so is used)",
            )?)?,
        })
    }

    /// Counts one answered read.
    pub fn read(&self, endpoint: Endpoint, outcome: Outcome) {
        self.reads
            .with_label_values(&[endpoint.label(), outcome.label()])
            .inc();
    }
}
