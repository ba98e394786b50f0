//! Wiring: [`Application::build`] (Redis connection, event-store reader, listener, state) and
//! [`Application::run_until_stopped`], so that tests start the real service on port 0.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use shared_domain::read_model::ReadModelKeys;
use shared_domain::service::config::redact_url;
use shared_domain::service::{
    Health, JsonLimit, Metrics, RequestContext, Shutdown, common_routes, run_until_shutdown,
};

use crate::config::Config;
use crate::metrics::ProjectionMetrics;
use crate::projector::Projector;
use crate::rebuild::{EventSource, RebuildSettings, Rebuilder, SourceError, event_store};
use crate::routes::{self, AppState};
use crate::webhook_auth::SignatureCheck;
use crate::{SERVICE_NAME, openapi};

/// How often the Redis connection retries a reconnect before the request fails (and the
/// delivery is answered 503: the store's retry is the real retry loop).
const REDIS_RECONNECT_ATTEMPTS: usize = 1;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `serve` needs `PROJECTION_AUTH_TOKEN`: the webhook must not be open to anyone.
    #[error("PROJECTION_AUTH_TOKEN is not set: the webhook needs a bearer token")]
    MissingAuthToken,
    /// `REDIS_URL` is not a Redis URL (the message holds no password).
    #[error("REDIS_URL is not usable: {0}")]
    RedisUrl(String),
    #[error("PROJECTION_WEBHOOK_SECRET is not usable: expected {0}")]
    WebhookSecret(String),
    #[error(transparent)]
    EventStore(#[from] SourceError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The Redis connection of `config`: lazy (the service starts while Redis is down and answers
/// 503), every round trip bounded by `REDIS_TIMEOUT_MS`.
pub fn redis_connection(config: &Config) -> Result<ConnectionManager, StartupError> {
    let url_error = |e: redis::RedisError| StartupError::RedisUrl(redact_url(&e.to_string()));
    let client = redis::Client::open(config.redis_url.as_str()).map_err(url_error)?;
    let settings = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.redis_timeout))
        .set_response_timeout(Some(config.redis_timeout))
        .set_number_of_retries(REDIS_RECONNECT_ATTEMPTS);
    ConnectionManager::new_lazy_with_config(client, settings).map_err(url_error)
}

/// The projector and rebuilder of `config`, reading events from `source` or else from the
/// event store `config` names (the `rebuild` subcommand uses this too).
pub fn rebuilder(
    config: &Config,
    source: Option<Arc<dyn EventSource>>,
) -> Result<Rebuilder, StartupError> {
    let projector = Projector::new(
        redis_connection(config)?,
        ReadModelKeys::new(&config.namespace),
    );
    let source = match source {
        Some(source) => source,
        None => event_store(&config.eventstore)?,
    };
    Ok(Rebuilder::new(
        projector,
        source,
        RebuildSettings {
            page_size: config.rebuild_page_size,
            old_generation_grace: config.old_generation_grace,
        },
    ))
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
    /// Checks the settings, binds `host:port` (port 0: any free port, see
    /// [`port`](Self::port)) and prepares the connections.
    pub fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_source(config, None)
    }

    /// [`build`](Self::build) with another event source for rebuilds (tests).
    pub fn build_with_source(
        config: Config,
        source: Option<Arc<dyn EventSource>>,
    ) -> Result<Self, StartupError> {
        let auth_token = config
            .auth_token
            .clone()
            .ok_or(StartupError::MissingAuthToken)?;
        let signature = config
            .webhook_secret
            .as_ref()
            .map(|secret| SignatureCheck::new(secret.expose()).map(Arc::new))
            .transpose()
            .map_err(StartupError::WebhookSecret)?;
        let address = SocketAddr::new(config.host, config.port);
        let bind_error = |source| StartupError::Bind {
            address: address.to_string(),
            source,
        };
        let listener = TcpListener::bind(address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let rebuilder = rebuilder(&config, source)?;
        let metrics = Metrics::new(SERVICE_NAME);
        let state = AppState {
            projector: rebuilder.projector().clone(),
            rebuilder,
            auth_token,
            signature,
            admin_token: config.admin_token.clone(),
            metrics: ProjectionMetrics::register(&metrics)?,
            shutdown: Shutdown::new(),
            namespace: config.namespace.clone(),
            store_name: config.eventstore.name.clone(),
        };
        tracing::info!(
            port,
            redis = %redact_url(&config.redis_url),
            namespace = %config.namespace,
            signed = state.signature.is_some(),
            "projection service built"
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

    /// Serves until `shutdown` fires, then drains; background rebuilds stop with it.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> std::io::Result<()> {
        let Application {
            listener,
            mut state,
            metrics,
            config,
            ..
        } = self;
        state.shutdown = shutdown.clone();
        let grace = config.shutdown.grace;
        let health = health_checks(state.projector.redis().clone());
        let limit = JsonLimit(config.max_body_bytes);
        let server = {
            let (state, health) = (state.clone(), health.clone());
            let mut server = HttpServer::new(move || {
                App::new()
                    .wrap(RequestContext::new(metrics.clone()))
                    .app_data(web::Data::new(state.clone()))
                    .app_data(limit)
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
}

/// `GET /health/ready`: Redis answers `PING`.
fn health_checks(redis: ConnectionManager) -> Health {
    Health::new().check("redis", move || {
        let mut redis = redis.clone();
        async move {
            redis::cmd("PING")
                .query_async::<String>(&mut redis)
                .await
                .map(drop)
        }
    })
}
