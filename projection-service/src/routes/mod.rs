//! The service's own routes (the kit adds health, metrics and `/openapi.json`):
//!
//! | route | module |
//! |---|---|
//! | `POST /api/projections/orders/events` | [`events`]: the webhook the event store calls |
//! | `GET /api/projections/orders/status` | [`status`]: checkpoint, lag, generation, rebuild |
//! | `POST /api/projections/orders/rebuild` | [`rebuild`]: start a rebuild (admin token) |

pub mod events;
pub mod rebuild;
pub mod status;

use std::sync::Arc;

use actix_web::web;
use shared_domain::service::Shutdown;

use crate::config::Secret;
use crate::metrics::ProjectionMetrics;
use crate::projector::Projector;
use crate::rebuild::Rebuilder;
use crate::webhook_auth::SignatureCheck;

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub projector: Projector,
    pub rebuilder: Rebuilder,
    /// Token deliveries must carry.
    pub auth_token: Secret,
    /// Signature check, when a webhook secret is configured.
    pub signature: Option<Arc<SignatureCheck>>,
    /// Token of the admin routes; `None` disables them.
    pub admin_token: Option<Secret>,
    pub metrics: ProjectionMetrics,
    /// Background rebuilds stop with the service.
    pub shutdown: Shutdown,
    /// The namespace and store shown by the status route.
    pub namespace: String,
    pub store_name: String,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/projections/orders/events",
        web::post().to(events::receive),
    )
    .route(
        "/api/projections/orders/status",
        web::get().to(status::status),
    )
    .route(
        "/api/projections/orders/rebuild",
        web::post().to(rebuild::start),
    );
}
