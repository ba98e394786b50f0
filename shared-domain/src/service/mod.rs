//! # The HTTP service kit (feature `service`)
//!
//! What the four services share so an operator sees them behave alike, written once:
//!
//! | module | job |
//! |---|---|
//! | [`error`] | [`ApiError`]: every error answer, `{"error","message","details"}`, opaque 5xx |
//! | [`json`], [`query`] | [`JsonBody`] / [`QueryParams`] extractors: 415, 413, 400 naming the field path |
//! | [`request_context`] | [`RequestContext`] middleware: `x-request-id`, `traceparent`, request span, one log line, HTTP metrics |
//! | [`trace_context`] | [`TraceContext`]: this hop's ids, passed on to outbound calls |
//! | [`metrics`] | [`Metrics`]: the Prometheus registry and `GET /metrics` |
//! | [`health`] | [`Health`]: `GET /health/live`, `GET /health/ready` with timed checks |
//! | [`shutdown`] | [`Shutdown`] (a cancellation token) and [`run_until_shutdown`] |
//! | [`telemetry`] | [`telemetry::init`]: `RUST_LOG`, `LOG_FORMAT=json` |
//! | [`auth`] | bearer token / API key, constant-time compare |
//! | [`config`] | 12-factor settings with clear, secret-free errors; [`config::redact_url`] |
//! | [`openapi`], [`routes`] | `/openapi.json` and [`common_routes`] |
//!
//! ## How a service uses it
//!
//! A service is a library with a thin `main.rs`; `run` takes a bound listener (tests bind port 0)
//! and a [`Shutdown`] (tests trigger it; `main` uses [`Shutdown::on_signals`]):
//!
//! ```text
//! pub async fn run(listener: TcpListener, config: Config, shutdown: Shutdown) -> std::io::Result<()> {
//!     let metrics = Metrics::new("command-service");
//!     let store = EventStoreClient::new(&config.eventstore_url);          // the service's own state
//!     let health = Health::new().check("eventstore", { let s = store.clone(); move || { let s = s.clone(); async move { s.ping().await } } });
//!     let (doc, grace) = (ApiDoc::openapi(), config.shutdown.grace);
//!     let server = HttpServer::new({ let (metrics, health) = (metrics.clone(), health.clone()); move || {
//!         App::new()
//!             .wrap(RequestContext::new(metrics.clone()))
//!             .app_data(JsonLimit(config.body_limit_bytes))
//!             .app_data(web::Data::new(store.clone()))
//!             .configure(|cfg| common_routes(cfg, metrics.clone(), health.clone(), doc.clone()))
//!             .route("/orders", web::post().to(place_order))   // handlers take JsonBody<T>, TraceContext
//!     }})
//!     .listen(listener)?.disable_signals().shutdown_timeout(grace.as_secs()).run();
//!     run_until_shutdown(server, shutdown, health, grace).await
//! }
//! ```
//!
//! and `main` is `telemetry::init(NAME)`, `Config::from_env()` (print the [`config::ConfigError`]
//! and exit 2 on a bad value), bind, `run(listener, config,
//! Shutdown::on_signals().with_drain_delay(…)).await`. Background loops take `shutdown.token()`.
//! Outbound calls: `trace.apply(client.post(url))` with the handler's [`TraceContext`].

pub mod auth;
pub mod config;
pub mod error;
pub mod extractor_errors;
pub mod health;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod request_context;
pub mod routes;
pub mod shutdown;
pub mod telemetry;
pub mod trace_context;

pub use error::{ApiError, ErrorBody};
pub use health::Health;
pub use json::{JsonBody, JsonBytes, JsonLimit};
pub use metrics::Metrics;
pub use query::QueryParams;
pub use request_context::RequestContext;
pub use routes::common_routes;
pub use shutdown::{Shutdown, ShutdownSettings, run_until_shutdown};
pub use trace_context::TraceContext;
