//! Rebuild: replay every event from the store's read-all API into a fresh generation, then make
//! it live in one step, so queries never see a half-built model.
//!
//! Live deliveries go on meanwhile, into the live generation only. They are not lost, because
//! the switch is guarded: a Lua script flips the pointer only when the new generation's
//! checkpoint (everything up to it is in) has reached the live generation's high-water mark
//! (the highest position any event script applied there, moved atomically with the event).
//! Otherwise the rebuild reads on and tries again. After the switch, every apply script checks
//! the pointer it was given, so a delivery that raced the switch gets "stale generation" and
//! is applied again to the new generation ([`crate::projector::Projector::apply`]). Reading the
//! store directly, the rebuild is usually ahead of the live deliveries, so it converges at once.
//!
//! One rebuild runs at a time per namespace (a lease in Redis, renewed per page). Generations a
//! crashed rebuild left behind are deleted by the next one; the replaced generation is deleted
//! after a grace period so requests that just read the old pointer finish on consistent data.

mod generations;
pub mod source;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use shared_domain::read_model::format_time;
use shared_domain::service::TraceContext;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::projector::{ProjectionError, Projector};
use generations::{Generations, Switch};
pub use source::{EventSource, SourceError, event_store};

/// How long the rebuild lease lasts without renewal.
const LEASE: Duration = Duration::from_secs(30);
/// Pause before reading again when the live generation is (briefly) ahead.
const CATCH_UP_PAUSE: Duration = Duration::from_millis(20);
/// How long a caught-up rebuild waits for the store to show what the live generation holds
/// before giving up (the store read is not the one the subscription delivers from).
const CATCH_UP_LIMIT: Duration = Duration::from_secs(60);

/// Why a rebuild did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Another rebuild of this namespace holds the lease.
    #[error("a rebuild is already running")]
    AlreadyRunning,
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("projecting failed: {0}")]
    Projection(#[from] ProjectionError),
    /// The lease expired and someone else took it (a pause longer than the lease).
    #[error("the rebuild lease was lost")]
    LeaseLost,
    /// The pointer moved while rebuilding (an operator edited it).
    #[error("the live generation changed during the rebuild")]
    PointerMoved,
    /// Caught up with the store, yet the live generation holds later events for longer than
    /// [`CATCH_UP_LIMIT`]: the rebuild reads another store than the one delivering.
    #[error(
        "the live read models hold events the event store does not return (is EVENTSTORE_NAME \
         the store the subscription delivers from?)"
    )]
    StoreBehind,
    /// Shutdown asked the rebuild to stop; the half-built generation is deleted.
    #[error("the rebuild was cancelled")]
    Cancelled,
}

impl From<redis::RedisError> for RebuildError {
    fn from(error: redis::RedisError) -> Self {
        Self::Projection(ProjectionError::Redis(error))
    }
}

/// Settings of rebuilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildSettings {
    /// Events per read-all page.
    pub page_size: u32,
    /// How long the replaced generation stays readable.
    pub old_generation_grace: Duration,
}

/// What a completed rebuild did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildReport {
    pub generation: String,
    pub previous_generation: String,
    pub events_read: u64,
    pub events_applied: u64,
    pub checkpoint: u64,
    pub duration_ms: u64,
}

/// Starts rebuilds of one namespace. Cheap to clone.
#[derive(Clone)]
pub struct Rebuilder {
    projector: Projector,
    generations: Generations,
    source: Arc<dyn EventSource>,
    settings: RebuildSettings,
}

impl std::fmt::Debug for Rebuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rebuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Rebuilder {
    /// Rebuilds into `projector`'s namespace from `source`.
    pub fn new(
        projector: Projector,
        source: Arc<dyn EventSource>,
        settings: RebuildSettings,
    ) -> Self {
        let generations = Generations::new(projector.redis().clone(), projector.keys().clone());
        Self {
            projector,
            generations,
            source,
            settings,
        }
    }

    /// The projector it rebuilds with.
    pub fn projector(&self) -> &Projector {
        &self.projector
    }

    /// Where events come from (the status endpoint asks it for the lag).
    pub fn source(&self) -> &Arc<dyn EventSource> {
        &self.source
    }

    /// Takes the lease, clears what earlier rebuilds left and names the new generation; the
    /// caller then [`RebuildRun::run`]s it (in the background for the HTTP route).
    pub async fn start(&self) -> Result<RebuildRun, RebuildError> {
        let token = uuid::Uuid::new_v4().to_string();
        if !self.generations.try_lock(&token, LEASE).await? {
            return Err(RebuildError::AlreadyRunning);
        }
        let started = async {
            let live = self.generations.live().await?;
            self.generations.delete_stale(&live, None).await?;
            let generation = self.generations.create(&live).await?;
            self.generations
                .reset_status(&[
                    ("state", "running".to_owned()),
                    ("generation", generation.clone()),
                    ("previousGeneration", live.clone()),
                    ("startedAt", format_time(Utc::now())),
                    ("eventsRead", "0".to_owned()),
                    ("eventsApplied", "0".to_owned()),
                    ("position", "0".to_owned()),
                ])
                .await?;
            Ok::<_, RebuildError>((live, generation))
        }
        .await;
        match started {
            Ok((live, generation)) => {
                tracing::info!(%generation, previous = %live, "rebuild started");
                Ok(RebuildRun {
                    rebuilder: self.clone(),
                    token,
                    live,
                    generation,
                    trace: TraceContext::new_root(),
                })
            }
            Err(error) => {
                let _ = self.generations.release_lock(&token).await;
                Err(error)
            }
        }
    }

    /// The progress record of the last rebuild, as the status endpoint shows it.
    pub async fn status(&self) -> Result<Option<serde_json::Value>, redis::RedisError> {
        let record = self.generations.status().await?;
        if record.is_empty() {
            return Ok(None);
        }
        let mut status = serde_json::Map::new();
        for (field, value) in record {
            let value = match field.as_str() {
                "eventsRead" | "eventsApplied" | "position" => value
                    .parse::<u64>()
                    .map_or(serde_json::Value::String(value), Into::into),
                _ => serde_json::Value::String(value),
            };
            status.insert(field, value);
        }
        Ok(Some(serde_json::Value::Object(status)))
    }
}

/// A started rebuild, holding the lease.
pub struct RebuildRun {
    rebuilder: Rebuilder,
    /// Lease holder token.
    token: String,
    /// The generation live when the rebuild started, which it replaces.
    live: String,
    /// The generation being built.
    generation: String,
    /// The trace the run belongs to (the request that started it, or a new one): on its log
    /// lines and passed on to the event store with every read.
    trace: TraceContext,
}

impl std::fmt::Debug for RebuildRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RebuildRun")
            .field("live", &self.live)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Progress of a run.
#[derive(Debug, Default)]
struct Progress {
    events_read: u64,
    events_applied: u64,
    /// Everything below this global position has been read and applied.
    next_position: u64,
}

impl RebuildRun {
    /// The generation being built.
    pub fn generation(&self) -> &str {
        &self.generation
    }

    /// Makes the run part of `trace` (the request that started it).
    #[must_use]
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = trace;
        self
    }

    /// Replays every event, switches, and deletes the replaced generation after the grace
    /// period, inside the run's trace (see [`with_trace`](Self::with_trace)).
    pub async fn run(self, cancel: CancellationToken) -> Result<RebuildReport, RebuildError> {
        let span = self.trace.span();
        self.run_traced(cancel).instrument(span).await
    }

    /// The run itself (the lease is released at the switch). On failure or cancellation the
    /// half-built generation is deleted and the record says why.
    async fn run_traced(self, cancel: CancellationToken) -> Result<RebuildReport, RebuildError> {
        let started = Instant::now();
        let generations = self.rebuilder.generations.clone();
        let outcome = tokio::select! {
            outcome = self.replay_and_switch() => outcome,
            () = cancel.cancelled() => Err(RebuildError::Cancelled),
        };
        let _ = generations.release_lock(&self.token).await;
        match outcome {
            Ok(progress) => {
                let checkpoint = self
                    .rebuilder
                    .projector
                    .checkpoint_of(&self.generation)
                    .await?;
                let report = RebuildReport {
                    generation: self.generation.clone(),
                    previous_generation: self.live.clone(),
                    events_read: progress.events_read,
                    events_applied: progress.events_applied,
                    checkpoint,
                    duration_ms: started.elapsed().as_millis() as u64,
                };
                generations
                    .update_status(&[
                        ("state", "completed".to_owned()),
                        ("finishedAt", format_time(Utc::now())),
                        ("eventsRead", progress.events_read.to_string()),
                        ("eventsApplied", progress.events_applied.to_string()),
                        ("durationMs", report.duration_ms.to_string()),
                    ])
                    .await?;
                tracing::info!(?report, "rebuild switched generations");
                let grace = self.rebuilder.settings.old_generation_grace;
                tokio::select! {
                    () = tokio::time::sleep(grace) => {}
                    () = cancel.cancelled() => {}
                }
                generations.delete(&self.live).await?;
                Ok(report)
            }
            Err(error) => {
                tracing::error!(%error, generation = %self.generation, "rebuild failed");
                let _ = generations
                    .update_status(&[
                        ("state", "failed".to_owned()),
                        ("finishedAt", format_time(Utc::now())),
                        ("error", error.to_string()),
                    ])
                    .await;
                let _ = generations.delete(&self.generation).await;
                Err(error)
            }
        }
    }

    async fn replay_and_switch(&self) -> Result<Progress, RebuildError> {
        let Rebuilder {
            projector,
            generations,
            source,
            settings,
        } = &self.rebuilder;
        let mut progress = Progress {
            next_position: 1,
            ..Progress::default()
        };
        let read = |from: u64| {
            let source = Arc::clone(source);
            let limit = settings.page_size;
            let trace = self.trace.clone();
            tokio::spawn(async move { source.read_all_traced(from, limit, &trace).await })
        };
        // One page is always in flight while the previous one is applied.
        let mut pending = read(progress.next_position);
        // Since when the rebuild has been caught up without being allowed to switch.
        let mut waiting_since: Option<Instant> = None;
        loop {
            let page = pending
                .await
                .map_err(|e| SourceError(format!("reader task failed: {e}")))??;
            let last = page.events.iter().map(|e| e.global_position).max();
            let next = page
                .next_global_position
                .max(last.map_or(progress.next_position, |p| p + 1))
                .max(progress.next_position);
            pending = read(next);
            if !page.events.is_empty() {
                let report = projector
                    .apply_to_generation(&self.generation, &page.events)
                    .await?;
                progress.events_read += page.events.len() as u64;
                progress.events_applied += report.applied as u64;
            }
            if next > 1 {
                projector
                    .advance_checkpoint(&self.generation, next - 1)
                    .await?;
            }
            progress.next_position = next;
            if !generations.renew_lock(&self.token, LEASE).await? {
                return Err(RebuildError::LeaseLost);
            }
            generations
                .update_status(&[
                    ("eventsRead", progress.events_read.to_string()),
                    ("eventsApplied", progress.events_applied.to_string()),
                    ("position", (next - 1).to_string()),
                ])
                .await?;
            if page.events.is_empty() {
                // Caught up with the store: switch if the live generation has nothing more.
                match generations.switch(&self.live, &self.generation).await? {
                    Switch::Done => {
                        pending.abort();
                        return Ok(progress);
                    }
                    Switch::NotYet => {
                        let since = *waiting_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > CATCH_UP_LIMIT {
                            return Err(RebuildError::StoreBehind);
                        }
                        tokio::time::sleep(CATCH_UP_PAUSE).await;
                    }
                    Switch::PointerMoved => return Err(RebuildError::PointerMoved),
                }
            } else {
                waiting_since = None;
            }
        }
    }
}
