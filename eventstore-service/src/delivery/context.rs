//! [`DeliveryContext`]: what the REST handlers and the delivery tasks of one replica share.

use std::sync::Arc;

use shared_domain::service::Metrics;

use super::metrics::DeliveryMetrics;
use super::settings::DeliverySettings;
use super::wakeups::Wakeups;

/// Shared by handlers and delivery tasks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DeliveryContext {
    /// The settings the replica started with.
    pub settings: Arc<DeliverySettings>,
    /// One HTTP client for every delivery (connection reuse; allowlist applied to DNS).
    pub client: reqwest::Client,
    /// Wake-ups of workers, fed by notifications and local handlers.
    pub wakeups: Wakeups,
    /// Per-subscription metrics.
    pub metrics: DeliveryMetrics,
}

impl DeliveryContext {
    pub fn new(settings: DeliverySettings, metrics: &Metrics) -> Self {
        let client = super::http::client(settings.allowlist.clone()).unwrap_or_else(|e| {
            // Building a client fails only when TLS cannot initialise: no delivery could work.
            panic!("cannot build the webhook HTTP client: {e}")
        });
        Self {
            settings: Arc::new(settings),
            client,
            wakeups: Wakeups::new(),
            metrics: DeliveryMetrics::new(metrics),
        }
    }
}
