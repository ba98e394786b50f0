//! Wiring: [`Application::build`] (Redis client, listener, state) and [`run`] (the HTTP server and
//! the checkpoint watcher, until shutdown), so that tests start the real service on port 0.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use shared_domain::service::config::redact_url;
use shared_domain::service::{
    Health, Metrics, RequestContext, Shutdown, common_routes, run_until_shutdown,
};

use crate::config::Config;
use crate::freshness::CheckpointWatch;
use crate::metrics::QueryMetrics;
use crate::routes::{self, AppState};
use crate::store::{ReadModelStore, SummaryCache};
use crate::{SERVICE_NAME, openapi};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `REDIS_URL` is not a Redis URL (the message holds no password).
    #[error("REDIS_URL is not usable: {0}")]
    RedisUrl(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A built service: bound listener and state. Start it with
/// [`run_until_stopped`](Self::run_until_stopped).
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    metrics: Metrics,
    config: Config,
}

impl Application {
    /// Binds `host:port` (port 0: any free port, see [`port`](Self::port)) and prepares the Redis
    /// connection, which is made lazily: the service starts while Redis is down and answers 503.
    pub fn build(config: Config) -> Result<Self, StartupError> {
        let address = SocketAddr::new(config.host, config.port);
        let bind_error = |source| StartupError::Bind {
            address: address.to_string(),
            source,
        };
        let listener = TcpListener::bind(address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let metrics = Metrics::new(SERVICE_NAME);
        let query_metrics = QueryMetrics::register(&metrics)?;
        let mut store =
            ReadModelStore::open(&config.redis_url, &config.namespace, config.redis_timeout)
                .map_err(|e| StartupError::RedisUrl(redact_url(&e.to_string())))?;
        if config.cache_entries > 0 {
            let counters = Some(query_metrics.cache.clone());
            let cache = SummaryCache::new(config.cache_entries, counters)
                .with_pages(config.page_cache_mb.saturating_mul(1 << 20));
            store = store.with_cache(Arc::new(cache));
        }
        let state = AppState {
            store,
            watch: CheckpointWatch::new(query_metrics.clone()),
            metrics: query_metrics,
            wait: config.wait,
        };
        tracing::info!(
            port,
            redis = %redact_url(&config.redis_url),
            namespace = %config.namespace,
            "query service built"
        );
        Ok(Self {
            listener,
            port,
            state,
            metrics,
            config,
        })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests look behind the API with it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` fires, then drains.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> std::io::Result<()> {
        run(self, shutdown).await
    }
}

/// Serves HTTP and keeps the checkpoint watch current until `shutdown` fires; then readiness
/// turns 503 and in-flight requests finish, bounded by the grace period.
async fn run(app: Application, shutdown: Shutdown) -> std::io::Result<()> {
    let Application {
        listener,
        state,
        metrics,
        config,
        ..
    } = app;
    let grace = config.shutdown.grace;
    let health = health_checks(&state.store);
    state.watch.spawn(
        state.store.client().clone(),
        state.store.keys().checkpoint_channel(),
        state.store.clone(),
        config.wait.resync,
        shutdown.clone(),
    );
    state
        .store
        .spawn_tracking(state.metrics.cache_up.clone(), shutdown.clone());
    let server = {
        let (state, health) = (state.clone(), health.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(RequestContext::new(metrics.clone()))
                .app_data(web::Data::new(state.clone()))
                .configure(routes::configure)
                .configure(|cfg| {
                    common_routes(cfg, metrics.clone(), health.clone(), openapi::document())
                })
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(grace.as_secs());
        if let Some(workers) = config.http_workers {
            server = server.workers(workers.max(1));
        }
        server.run()
    };
    run_until_shutdown(server, shutdown, health, grace).await
}

/// `GET /health/ready`: Redis answers `PING`.
fn health_checks(store: &ReadModelStore) -> Health {
    let store = store.clone();
    Health::new().check("redis", move || {
        let store = store.clone();
        async move { store.ping().await }
    })
}
