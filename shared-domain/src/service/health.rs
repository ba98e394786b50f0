//! [`Health`]: liveness and readiness.
//!
//! * `GET /health/live` checks nothing but the process: 200 `{"status":"ok"}`.
//! * `GET /health/ready` runs the service's own dependency checks concurrently, each bounded by a
//!   short time-out: 200 `{"status":"ready","checks":{"postgres":"ok"}}`, or 503
//!   `{"status":"unavailable","checks":{"postgres":"timeout"}}`. After
//!   [`Health::set_shutting_down`] it answers 503 at once, so a load balancer stops sending
//!   traffic while in-flight requests finish.
//!
//! Check errors are shortened and stripped of URL passwords before they reach the body; write
//! checks that say *what* failed, not *where* (no connection strings).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::HttpResponse;
use futures_util::future::{BoxFuture, FutureExt, join_all};
use serde::{Deserialize, Serialize};

use super::config::redact_urls_in;

/// Time-out of a check registered with [`Health::check`].
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest check error kept in the readiness body.
const MAX_ERROR_LEN: usize = 200;

type CheckFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[derive(Clone)]
struct Check {
    name: String,
    timeout: Duration,
    run: CheckFn,
}

/// Named readiness checks plus the shutting-down flag. Cheap to clone; clones share the flag.
#[derive(Clone, Default)]
pub struct Health {
    checks: Arc<Vec<Check>>,
    shutting_down: Arc<AtomicBool>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|c| c.name.as_str()).collect();
        f.debug_struct("Health")
            .field("checks", &names)
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

/// `GET /health/live` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveBody {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /health/ready` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadyBody {
    /// `ready` or `unavailable`.
    #[schema(example = "ready")]
    pub status: String,
    /// Why the service is unavailable when no check is to blame (`shutting down`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each check's outcome: `ok`, `timeout` or `error: …`.
    pub checks: BTreeMap<String, String>,
}

impl ReadyBody {
    /// Whether every check passed.
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

impl Health {
    /// No checks: ready until shutting down.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a readiness check with the default time-out ([`DEFAULT_CHECK_TIMEOUT`]):
    /// `Health::new().check("postgres", move || { let pool = pool.clone(); async move { … } })`.
    #[must_use]
    pub fn check<F, Fut, E>(self, name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        self.check_with_timeout(name, DEFAULT_CHECK_TIMEOUT, check)
    }

    /// Adds a readiness check with its own time-out.
    #[must_use]
    pub fn check_with_timeout<F, Fut, E>(
        mut self,
        name: impl Into<String>,
        timeout: Duration,
        check: F,
    ) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let run: CheckFn = Arc::new(move || check().map(|r| r.map_err(|e| e.to_string())).boxed());
        Arc::make_mut(&mut self.checks).push(Check {
            name: name.into(),
            timeout,
            run,
        });
        self
    }

    /// From now on readiness answers 503 without running checks (called on shutdown).
    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether [`set_shutting_down`](Self::set_shutting_down) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Runs the checks (concurrently) and says whether the service is ready, and why not.
    pub async fn readiness(&self) -> ReadyBody {
        if self.is_shutting_down() {
            return ReadyBody {
                status: "unavailable".to_owned(),
                reason: Some("shutting down".to_owned()),
                checks: BTreeMap::new(),
            };
        }
        let outcomes = join_all(self.checks.iter().map(|check| async move {
            let outcome = match tokio::time::timeout(check.timeout, (check.run)()).await {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(error)) => {
                    let error = redact_urls_in(&error);
                    tracing::warn!(check = %check.name, %error, "readiness check failed");
                    format!("error: {}", shorten(&error))
                }
                Err(_) => {
                    tracing::warn!(check = %check.name, timeout_ms = check.timeout.as_millis() as u64, "readiness check timed out");
                    "timeout".to_owned()
                }
            };
            (check.name.clone(), outcome)
        }))
        .await;
        let ready = outcomes.iter().all(|(_, outcome)| outcome == "ok");
        ReadyBody {
            status: if ready { "ready" } else { "unavailable" }.to_owned(),
            reason: None,
            checks: outcomes.into_iter().collect(),
        }
    }

    /// The `GET /health/ready` answer: 200 when ready, else 503.
    pub async fn ready_response(&self) -> HttpResponse {
        let body = self.readiness().await;
        if body.is_ready() {
            HttpResponse::Ok().json(body)
        } else {
            HttpResponse::ServiceUnavailable().json(body)
        }
    }

    /// The `GET /health/live` answer: always 200 `{"status":"ok"}`.
    pub fn live_response() -> HttpResponse {
        HttpResponse::Ok().json(LiveBody {
            status: "ok".to_owned(),
        })
    }
}

/// How long [`probe_live`] waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The client side of a `healthcheck` subcommand (so a distroless image needs no curl):
/// `Ok` when `GET http://127.0.0.1:{port}/health/live` answers 2xx within [`PROBE_TIMEOUT`],
/// else a one-line reason for stderr.
pub async fn probe_live(port: u16) -> Result<(), String> {
    probe(
        &format!("http://127.0.0.1:{port}/health/live"),
        PROBE_TIMEOUT,
    )
    .await
}

/// The whole `healthcheck` subcommand: [`probe_live`] on `port`, exit 0 when live, else the
/// reason on stderr and exit 1.
pub async fn healthcheck_command(port: u16) -> std::process::ExitCode {
    match probe_live(port).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("unhealthy: {reason}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `Ok` when `GET url` answers 2xx within `timeout`.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{}: {e}", redact_urls_in(url)))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "{} answered {}",
            redact_urls_in(url),
            response.status()
        ))
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
