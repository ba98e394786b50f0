//! Subscriptions (issue 4): what a subscription is, where it is stored, and how it is managed —
//! through the REST API and the config file. Delivery itself lives in [`crate::delivery`].
//!
//! | module | job |
//! |---|---|
//! | [`filter`] | event filters: `*`, `ns.*`, `*.name`, exact types |
//! | [`spec`], [`webhook`] | a subscription as written, and its checked form with field paths in errors |
//! | [`config_file`] | the `deltabase.config.ts`-shaped file: TOML/JSON, `${ENV}`, checked whole |
//! | [`apply`] | create / update one subscription (subscribe, start-up config, deploy) |
//! | [`deploy`] | apply a whole file; the `deploy` report |
//! | [`routes`], [`view`] | the REST API and how a subscription is shown |
//! | [`db`], [`dead_letters`] | the tables' queries |

pub mod apply;
pub mod config_file;
pub mod db;
pub mod dead_letters;
pub mod deploy;
pub mod filter;
pub mod routes;
pub mod spec;
pub mod view;
pub mod webhook;

pub use routes::routes;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::startup::AppState;

/// Starts the delivery engine; its tasks end soon after `token` is cancelled.
pub fn spawn_background(state: &AppState, token: &CancellationToken) -> Vec<JoinHandle<()>> {
    crate::delivery::engine::spawn(
        state.pool.clone(),
        state.config.database_url.clone(),
        state.delivery.clone(),
        token.clone(),
    )
}
