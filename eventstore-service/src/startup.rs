//! Wiring: [`AppState`], [`Application::build`] (pool, migrations, listener) and [`run`] (the HTTP
//! server and the background tasks, until shutdown), zero2prod-style, so tests start the real
//! service on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use deadpool_postgres::Pool;
use shared_domain::service::{
    Health, JsonLimit, Metrics, RequestContext, Shutdown, common_routes, run_until_shutdown,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::{self, DbError};
use crate::writer::Writers;
use crate::{api, subscriptions};

/// The name in metrics, logs and the OpenAPI document.
pub const SERVICE_NAME: &str = "eventstore-service";

/// What every handler and background task shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Connections to PostgreSQL; handlers and background tasks draw from it.
    pub pool: Pool,
    /// The settings the service started with.
    pub config: Arc<Config>,
    /// The Prometheus registry; register the service's own metrics here.
    pub metrics: Metrics,
    /// The group-commit writers, one per store, each started on the store's first append.
    pub writers: Writers,
    /// Subscriptions' delivery: HTTP client, wake-ups, metrics (issue 4).
    pub delivery: crate::delivery::DeliveryContext,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `pool`, with the writers on `writer_pool` (see [`crate::writer`]).
    pub fn new(pool: Pool, writer_pool: Pool, config: Config) -> Self {
        let metrics = Metrics::new(SERVICE_NAME);
        let config = Arc::new(config);
        let writers = Writers::new(writer_pool, config.clone(), &metrics);
        let delivery =
            crate::delivery::DeliveryContext::new(config.subscriptions.clone(), &metrics);
        Self {
            pool,
            config,
            metrics,
            writers,
            delivery,
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("EVENTSTORE_CONFIG: {0}")]
    SubscriptionsConfig(#[from] subscriptions::deploy::DeployError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A built service: migrated database, bound listener, state. Start it with
/// [`run_until_stopped`](Self::run_until_stopped).
pub struct Application {
    port: u16,
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Builds the pool, applies migrations (unless switched off) and binds `host:port`
    /// (port 0: any free port, see [`port`](Self::port)).
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        if config.migrate_on_start {
            db::migrate(&config.database_url).await?;
        }
        let pool = db::pool(&config)?;
        let writer_pool = db::writer_pool(&config)?;
        if let Some(path) = &config.subscriptions.config_file {
            // Issue 4: a config file that does not check stops the start, naming the field.
            subscriptions::deploy::apply_startup_config(
                &pool,
                path,
                config.subscriptions.allowlist.as_deref(),
            )
            .await?;
        }
        let address = std::net::SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(address).map_err(|source| StartupError::Bind {
            address: address.to_string(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                address: address.to_string(),
                source,
            })?
            .port();
        Ok(Self {
            port,
            listener,
            state: AppState::new(pool, writer_pool, config),
        })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests use its pool to look behind the API).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` fires, then drains (see [`run`]).
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> std::io::Result<()> {
        run(self.listener, self.state, shutdown).await
    }
}

/// [`Application::build`] as a free function.
pub async fn build(config: Config) -> Result<Application, StartupError> {
    Application::build(config).await
}

/// Serves HTTP on `listener` and runs the background tasks until `shutdown` fires; then readiness
/// turns 503, in-flight requests finish (bounded by the grace period), background tasks are
/// cancelled and awaited.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let grace = state.config.shutdown.grace;
    let health = health_checks(&state.pool);
    // A child token: background tasks also stop when the server ends on its own.
    let background = shutdown.token().child_token();
    let tasks = spawn_background_tasks(&state, &background);

    let workers = state.config.http_workers;
    let server = {
        let (state, health) = (state.clone(), health.clone());
        let mut server = HttpServer::new(move || {
            let (state, health) = (state.clone(), health.clone());
            App::new()
                .wrap(RequestContext::new(state.metrics.clone()))
                .app_data(JsonLimit(state.config.max_body_bytes))
                .app_data(web::Data::new(state.clone()))
                .service(
                    web::scope("/api")
                        .wrap(from_fn(api::auth::require_api_key))
                        .configure(api::routes)
                        // Issue 4 mounts subscriptions here, behind the same API key.
                        .configure(subscriptions::routes),
                )
                .configure(|cfg| {
                    common_routes(cfg, state.metrics.clone(), health, api::openapi::document())
                })
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(grace.as_secs());
        if let Some(workers) = workers {
            server = server.workers(workers.max(1));
        }
        server.run()
    };
    let result = run_until_shutdown(server, shutdown, health, grace).await;
    background.cancel();
    for task in tasks {
        if tokio::time::timeout(grace, task).await.is_err() {
            tracing::warn!("a background task did not stop within the grace period");
        }
    }
    result
}

/// Starts every background loop; each must end soon after `token` is cancelled.
fn spawn_background_tasks(state: &AppState, token: &CancellationToken) -> Vec<JoinHandle<()>> {
    // Issue 4: subscription dispatchers and webhook delivery start here.
    subscriptions::spawn_background(state, token)
}

/// `GET /health/ready`: PostgreSQL answers a query.
fn health_checks(pool: &Pool) -> Health {
    let pool = pool.clone();
    Health::new().check("postgres", move || {
        let pool = pool.clone();
        async move {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            client
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
}
