//! Subscriptions (issue 4): what a subscription is, where it is stored, and how it is managed —
//! through the REST API and the config file. Delivery itself lives in [`crate::delivery`].
//!
//! | module | job |
//! |---|---|
//! | [`filter`] | event filters: `*`, `ns.*`, `*.name`, exact types |
//! | [`spec`] | a subscription as written, and its checked form with field paths in errors |
//! | [`config_file`] | the `deltabase.config.ts`-shaped file: TOML/JSON, `${ENV}`, checked whole |

pub mod config_file;
pub mod filter;
pub mod spec;

use actix_web::web;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::startup::AppState;

/// Mounts the subscription routes (inside `/api`, behind the API key).
pub fn routes(_cfg: &mut web::ServiceConfig) {}

/// Starts the delivery engine; its tasks end soon after `token` is cancelled.
pub fn spawn_background(_state: &AppState, _token: &CancellationToken) -> Vec<JoinHandle<()>> {
    Vec::new()
}
