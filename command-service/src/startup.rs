//! Wiring: [`Application::build`] binds the listener (port 0 in tests) and [`run`] serves the
//! command routes and the kit's operational routes until shutdown.

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use shared_domain::client::EventStoreClient;
use shared_domain::orders::OrdersDecider;
use shared_domain::service::{
    Health, JsonLimit, Metrics, RequestContext, Shutdown, common_routes, run_until_shutdown,
};
use utoipa::OpenApi;

use crate::config::Config;
use crate::metrics::CommandMetrics;
use crate::openapi::ApiDoc;
use crate::routes::{CommandApp, command_routes};
use crate::store::CommandStore;

/// The service name in logs and metrics.
pub const SERVICE_NAME: &str = "command-service";

/// Longest readiness probe of the event store: readiness must answer quickly even when the
/// store hangs.
const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A bound, not yet running service.
pub struct Application<S> {
    listener: TcpListener,
    store: Arc<S>,
    config: Config,
}

impl Application<EventStoreClient> {
    /// Binds `config.host:config.port` for a service on the event store `config.eventstore`
    /// names (nothing is called yet: a store that is down makes readiness fail, not start-up).
    pub fn build(config: Config) -> io::Result<Self> {
        let settings = &config.eventstore;
        let client = EventStoreClient::new(&settings.url, settings.name.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
            .with_api_key(settings.api_key.clone())
            .with_timeout(settings.timeout);
        Self::with_store(config, client)
    }
}

impl<S: CommandStore> Application<S> {
    /// Binds `config.host:config.port` (0: any free port) for a service on `store`.
    pub fn with_store(config: Config, store: S) -> io::Result<Self> {
        let listener = TcpListener::bind((config.host, config.port))?;
        Ok(Self {
            listener,
            store: Arc::new(store),
            config,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The server as a future to spawn (tests): serves until `shutdown`, then drains.
    pub fn serve(
        self,
        shutdown: Shutdown,
    ) -> io::Result<impl Future<Output = io::Result<()>> + Send + 'static> {
        run(self.listener, self.store, self.config, shutdown)
    }

    /// Serves until `shutdown` fires (then drains) or the server fails.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> io::Result<()> {
        run(self.listener, self.store, self.config, shutdown)?.await
    }
}

/// The command service on `listener`, ready to be awaited (or spawned): it serves until
/// `shutdown`, then drains.
pub fn run<S: CommandStore>(
    listener: TcpListener,
    store: Arc<S>,
    config: Config,
    shutdown: Shutdown,
) -> io::Result<impl Future<Output = io::Result<()>> + Send + 'static> {
    let metrics = Metrics::new(SERVICE_NAME);
    let command_metrics = CommandMetrics::register(&metrics).map_err(io::Error::other)?;
    let health = Health::new().check_with_timeout(
        "eventstore",
        READY_CHECK_TIMEOUT.min(config.eventstore.timeout),
        {
            let store = Arc::clone(&store);
            move || {
                let store = Arc::clone(&store);
                async move { store.ping().await }
            }
        },
    );
    let app = web::Data::new(CommandApp {
        store,
        decider: OrdersDecider::default(),
        conflict_retries: config.conflict_retries.clone(),
        command_timeout: config.command_timeout,
        metrics: command_metrics,
    });
    let doc = ApiDoc::openapi();
    let body_limit = JsonLimit(config.max_body_bytes);
    let grace = config.shutdown.grace;
    let mut server = HttpServer::new({
        let (metrics, health) = (metrics.clone(), health.clone());
        move || {
            App::new()
                .wrap(RequestContext::new(metrics.clone()))
                .app_data(body_limit)
                .app_data(app.clone())
                .configure(command_routes::<S>)
                .configure(|cfg| common_routes(cfg, metrics.clone(), health.clone(), doc.clone()))
        }
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(grace.as_secs());
    if let Some(workers) = config.http_workers {
        server = server.workers(workers);
    }
    tracing::info!(
        eventstore = %shared_domain::service::config::redact_url(&config.eventstore.url),
        store = %config.eventstore.name,
        "command service listening"
    );
    Ok(run_until_shutdown(server.run(), shutdown, health, grace))
}
