//! [`Shutdown`]: shutdown as an *input* (mini-redis style), built on a `CancellationToken`.
//!
//! `main` makes one with [`Shutdown::on_signals`] (SIGTERM, Ctrl-C); tests make one with
//! [`Shutdown::new`] and call [`Shutdown::trigger`]. Background loops select on
//! [`Shutdown::token`]; the HTTP server is driven by [`run_until_shutdown`], which on the signal
//!
//! 1. flips readiness to 503 ([`Health::set_shutting_down`]) so load balancers stop routing here,
//! 2. waits the drain delay ([`Shutdown::with_drain_delay`], default 0) for them to notice,
//! 3. stops the server gracefully (`stop(true)`: no new connections, in-flight requests finish),
//! 4. and gives up waiting when the grace period (counted from the signal) runs out: it then
//!    returns and the process is expected to exit.
//!
//! Build servers with `.disable_signals()` (so actix does not react to signals on its own) and
//! `.shutdown_timeout(grace_secs)` (so the workers, too, stop waiting for slow requests).

use std::time::Duration;

use actix_web::dev::Server;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::{ConfigError, Vars};
use super::health::Health;

/// Default grace period from signal to exit.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// The shutdown signal, shared by the server and every background loop. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    drain_delay: Duration,
}

impl Shutdown {
    /// A shutdown that only [`trigger`](Self::trigger) fires (tests, embedding).
    pub fn new() -> Self {
        Self::default()
    }

    /// A shutdown fired by SIGTERM or Ctrl-C (SIGINT). Call inside a Tokio runtime (it spawns
    /// the listener task).
    pub fn on_signals() -> Self {
        let shutdown = Self::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            let signal = wait_for_signal().await;
            tracing::info!(signal, "shutdown signal received");
            trigger.trigger();
        });
        shutdown
    }

    /// Sets how long to keep serving after readiness turned 503, before closing listeners.
    #[must_use]
    pub fn with_drain_delay(mut self, drain_delay: Duration) -> Self {
        self.drain_delay = drain_delay;
        self
    }

    /// The drain delay.
    pub fn drain_delay(&self) -> Duration {
        self.drain_delay
    }

    /// The token background loops select on (`token.cancelled()`); cancelled on shutdown.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Starts the shutdown.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when shutdown starts.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }
}

/// Shutdown timing from the environment: `SHUTDOWN_GRACE_SECONDS` (default 30) and
/// `SHUTDOWN_DRAIN_DELAY_MS` (default 0; a few seconds behind a Kubernetes Service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownSettings {
    /// From signal to exit, at most.
    pub grace: Duration,
    /// From readiness 503 to closing listeners.
    pub drain_delay: Duration,
}

impl ShutdownSettings {
    /// Reads the two variables from `vars`.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            grace: vars.duration_secs("SHUTDOWN_GRACE_SECONDS", DEFAULT_GRACE)?,
            drain_delay: vars.duration_ms("SHUTDOWN_DRAIN_DELAY_MS", Duration::ZERO)?,
        })
    }
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self {
            grace: DEFAULT_GRACE,
            drain_delay: Duration::ZERO,
        }
    }
}

/// Runs `server` until it stops by itself or `shutdown` fires; then drains it as the module
/// documentation describes, bounded by `grace`, and flushes the spans an OpenTelemetry exporter
/// still holds. Returns the server's own result.
pub async fn run_until_shutdown(
    server: Server,
    shutdown: Shutdown,
    health: Health,
    grace: Duration,
) -> std::io::Result<()> {
    let result = drain(server, shutdown, health, grace).await;
    // The exporter's flush blocks (bounded by its own time-out): off the async workers.
    let _ = tokio::task::spawn_blocking(super::telemetry::flush).await;
    result
}

async fn drain(
    server: Server,
    shutdown: Shutdown,
    health: Health,
    grace: Duration,
) -> std::io::Result<()> {
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown.cancelled() => {}
    }
    let deadline = Instant::now() + grace;
    health.set_shutting_down();
    tracing::info!(
        drain_delay_ms = shutdown.drain_delay().as_millis() as u64,
        grace_ms = grace.as_millis() as u64,
        "shutting down: readiness is 503, draining"
    );
    let drain_until = (Instant::now() + shutdown.drain_delay()).min(deadline);
    tokio::select! {
        result = &mut server => return result,
        () = tokio::time::sleep_until(drain_until) => {}
    }
    let graceful = async {
        let ((), result) = tokio::join!(handle.stop(true), &mut server);
        result
    };
    match tokio::time::timeout_at(deadline, graceful).await {
        Ok(result) => {
            tracing::info!("server stopped");
            result
        }
        Err(_) => {
            // The server's command loop runs inside the future we stop polling here, so asking
            // it for anything more would hang; the caller exits, which ends the workers.
            tracing::warn!("grace period over; exiting with requests still in flight");
            Ok(())
        }
    }
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the service");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}
