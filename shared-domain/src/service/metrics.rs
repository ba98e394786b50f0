//! [`Metrics`]: one Prometheus registry per service, with the HTTP metrics every service shares
//! already in it, and the `GET /metrics` answer.
//!
//! Names follow Prometheus conventions: counters end in `_total`, durations are `_seconds`
//! histograms, label values are bounded (route *patterns*, never raw paths).

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header::CONTENT_TYPE;
use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Content type of the Prometheus text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A service's metrics registry. Cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    service_name: String,
    registry: Registry,
    /// `http_requests_total{method,route,status}`: requests answered.
    http_requests_total: IntCounterVec,
    /// `http_request_duration_seconds{method,route,status}`: time from request to answer.
    http_request_duration_seconds: HistogramVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("service_name", &self.inner.service_name)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry holding the shared HTTP metrics and `service_info{service="…"} 1`.
    pub fn new(service_name: &str) -> Self {
        let registry = Registry::new();
        let http_requests_total = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("http_requests_total is a valid metric");
        let http_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from receiving an HTTP request to answering it",
            ),
            &["method", "route", "status"],
        )
        .expect("http_request_duration_seconds is a valid metric");
        let service_info = IntGaugeVec::new(
            Opts::new("service_info", "Always 1; names the service"),
            &["service"],
        )
        .expect("service_info is a valid metric");
        service_info.with_label_values(&[service_name]).set(1);
        for collector in [
            Box::new(http_requests_total.clone()) as Box<dyn Collector>,
            Box::new(http_request_duration_seconds.clone()),
            Box::new(service_info),
        ] {
            registry
                .register(collector)
                .expect("a fresh registry accepts the built-in metrics");
        }
        Self {
            inner: Arc::new(Inner {
                service_name: service_name.to_owned(),
                registry,
                http_requests_total,
                http_request_duration_seconds,
            }),
        }
    }

    /// The service name given to [`new`](Self::new).
    pub fn service_name(&self) -> &str {
        &self.inner.service_name
    }

    /// The registry, to register a service's own metrics in.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Registers a collector and hands it back, for one-line declarations:
    /// `let appends = metrics.register(IntCounter::new("eventstore_appends_total", "…")?)?;`
    pub fn register<C: Collector + Clone + 'static>(&self, collector: C) -> prometheus::Result<C> {
        self.inner.registry.register(Box::new(collector.clone()))?;
        Ok(collector)
    }

    /// Records one answered HTTP request (called by the request-context middleware).
    pub fn observe_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.inner
            .http_requests_total
            .with_label_values(&labels)
            .inc();
        self.inner
            .http_request_duration_seconds
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Everything in the registry in Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let families = self.inner.registry.gather();
        if let Err(e) = prometheus::TextEncoder::new().encode(&families, &mut buffer) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// The `GET /metrics` answer.
    pub fn http_response(&self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, PROMETHEUS_TEXT))
            .body(self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_observations_appear_in_text_output() {
        let metrics = Metrics::new("test-service");
        metrics.observe_http("GET", "/orders/{id}", 200, Duration::from_millis(5));
        let text = metrics.render();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/orders/{id}",status="200"} 1"#
            )
        );
        assert!(text.contains("http_request_duration_seconds_bucket"));
        assert!(text.contains(r#"service_info{service="test-service"} 1"#));
    }

    #[test]
    fn services_register_their_own_metrics() {
        let metrics = Metrics::new("test-service");
        let appends = metrics
            .register(prometheus::IntCounter::new("appends_total", "appends").unwrap())
            .unwrap();
        appends.inc_by(3);
        assert!(metrics.render().contains("appends_total 3"));
    }
}
