//! One subscription's delivery loop on this replica: hold the lease (or stand by for it), read
//! the next batch after the checkpoint with the store's gap-free read-all, POST it, and move the
//! checkpoint only after a 2xx — or record the failed attempt and its retry time, and when the
//! attempts run out stop with `ERROR` or park the batch.

use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::batch;
use super::context::DeliveryContext;
use super::schedule::{self, AfterFailure};
use super::state::{self, FailureRecord, Lease};
use crate::model::StoreName;
use crate::storage::reads::read_all;
use crate::subscriptions::db::{self, Status, SubscriptionRow};
use crate::subscriptions::dead_letters::NewDeadLetter;
use crate::subscriptions::spec::ExhaustedMode;

/// What a step of the loop came to.
enum Step {
    /// Work was done; look again at once.
    Progress,
    /// Nothing to do until woken, or until the given time passes.
    Idle(Option<Duration>),
    /// The lease is gone (taken over, reset, or the subscription deleted).
    LeaseLost,
    /// Shutting down.
    Cancelled,
}

/// The loop of one subscription.
pub struct Worker {
    pub pool: Pool,
    pub context: DeliveryContext,
    pub store_id: i32,
    pub store_name: String,
    pub subscription_id: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Worker {
    fn renew_interval(&self) -> Duration {
        self.context.settings.lease_ttl / 3
    }

    /// Runs until `token` is cancelled or the subscription is deleted.
    pub async fn run(self, token: CancellationToken) {
        let span = tracing::info_span!("subscription", store = %self.store_name, id = %self.subscription_id);
        self.run_inner(token).instrument(span).await;
    }

    async fn run_inner(self, token: CancellationToken) {
        let mut wake = self.context.wakeups.watch_store(&self.store_name);
        let settings = self.context.settings.clone();
        // A standby looks for a free lease this often, so it takes over soon after expiry.
        let standby = (settings.lease_ttl / 5).min(settings.poll_interval);
        loop {
            if token.is_cancelled() {
                return;
            }
            match self.acquire().await {
                Ok(Some((lease, row))) => {
                    tracing::info!(epoch = lease.epoch, "holding the delivery lease");
                    match self.hold(&lease, row, &token, &mut wake).await {
                        Step::Cancelled => {
                            if let Ok(client) = self.pool.get().await {
                                let _ = state::release(&**client, &lease).await;
                            }
                            return;
                        }
                        _ => {
                            tracing::info!("delivery lease lost");
                            self.context
                                .metrics
                                .clear_lag(&self.store_name, &self.subscription_id);
                        }
                    }
                }
                Ok(None) => match self.exists().await {
                    Ok(false) => {
                        self.context
                            .metrics
                            .forget(&self.store_name, &self.subscription_id);
                        return;
                    }
                    _ => {
                        if wait(&token, &mut wake, standby).await {
                            return;
                        }
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take the delivery lease");
                    if wait(&token, &mut wake, standby).await {
                        return;
                    }
                }
            }
        }
    }

    async fn acquire(&self) -> Result<Option<(Lease, SubscriptionRow)>, BoxError> {
        let client = self.pool.get().await?;
        Ok(state::acquire(
            &**client,
            self.store_id,
            &self.subscription_id,
            &self.context.settings.instance_id,
            self.context.settings.lease_ttl,
        )
        .await?)
    }

    async fn exists(&self) -> Result<bool, BoxError> {
        let client = self.pool.get().await?;
        Ok(db::get(&**client, self.store_id, &self.subscription_id)
            .await?
            .is_some())
    }

    /// Delivers while the lease is ours.
    async fn hold(
        &self,
        lease: &Lease,
        mut row: SubscriptionRow,
        token: &CancellationToken,
        wake: &mut watch::Receiver<u64>,
    ) -> Step {
        loop {
            wake.borrow_and_update();
            self.context
                .metrics
                .lag(&row.store_name, &row.id, row.lag());
            let step = if row.status != Status::Active {
                Step::Idle(None)
            } else if let Some(at) = row.next_attempt_at.filter(|at| *at > Utc::now()) {
                Step::Idle(Some(schedule::wait_until(at, Utc::now())))
            } else {
                match self.step(lease, &row, token).await {
                    Ok(step) => step,
                    Err(e) => {
                        tracing::warn!(error = %e, "delivery step failed; retrying");
                        Step::Idle(Some(Duration::from_millis(200)))
                    }
                }
            };
            match step {
                Step::Progress => {}
                Step::Idle(until) => {
                    let mut pause = self
                        .renew_interval()
                        .min(self.context.settings.poll_interval);
                    if let Some(until) = until {
                        pause = pause.min(until);
                    }
                    if wait(token, wake, pause).await {
                        return Step::Cancelled;
                    }
                }
                other => return other,
            }
            match self.renew(lease).await {
                Ok(Some(fresh)) => row = fresh,
                Ok(None) => return Step::LeaseLost,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew the delivery lease");
                    if wait(token, wake, Duration::from_millis(200)).await {
                        return Step::Cancelled;
                    }
                }
            }
        }
    }

    async fn renew(&self, lease: &Lease) -> Result<Option<SubscriptionRow>, BoxError> {
        let client = self.pool.get().await?;
        Ok(state::renew(&**client, lease).await?)
    }

    /// Reads the next batch and delivers it once.
    async fn step(
        &self,
        lease: &Lease,
        row: &SubscriptionRow,
        token: &CancellationToken,
    ) -> Result<Step, BoxError> {
        let store = StoreName::parse(&row.store_name).map_err(BoxError::from)?;
        let like = row.filter.sql_like_patterns();
        let page = read_all(
            &self.pool,
            &store,
            row.checkpoint + 1,
            row.batch_size,
            like.as_deref(),
        )
        .await?;
        let mut events = page.events;
        let mut ack_to = page.next_global_position.saturating_sub(1);
        // A retry sends the same batch again (same events, same delivery id).
        if let Some(pending) = row.pending_last_position {
            events.retain(|e| e.global_position <= pending);
            ack_to = ack_to.min(pending);
        }
        if events.is_empty() {
            if ack_to > row.checkpoint {
                // Only events the filter skips: move past them.
                let client = self.pool.get().await?;
                return Ok(
                    if state::acknowledge(&**client, lease, ack_to, false).await? {
                        Step::Progress
                    } else {
                        Step::LeaseLost
                    },
                );
            }
            return Ok(Step::Idle(None));
        }
        let delivery_id = row
            .pending_delivery_id
            .clone()
            .unwrap_or_else(batch::new_delivery_id);
        let attempt = row.retry_attempt + 1;
        let outcome = tokio::select! {
            outcome = batch::send(&self.context.client, row, &events, &delivery_id, attempt) => outcome,
            () = self.keep_lease(lease) => return Ok(Step::LeaseLost),
            () = token.cancelled() => return Ok(Step::Cancelled),
        };
        let client = self.pool.get().await?;
        match outcome {
            Ok(status) => {
                tracing::debug!(status, events = events.len(), %delivery_id, "delivered");
                if !state::acknowledge(&**client, lease, ack_to, true).await? {
                    return Ok(Step::LeaseLost);
                }
                self.context
                    .metrics
                    .delivered(&row.store_name, &row.id, events.len());
                Ok(Step::Progress)
            }
            Err(failed) => {
                self.context.metrics.failed(&row.store_name, &row.id);
                let now = Utc::now();
                let next = schedule::after_failure(
                    &row.webhook.retry_policy,
                    attempt,
                    failed.retry_after,
                    now,
                );
                let record = FailureRecord {
                    attempt,
                    error: &failed.error,
                    at: now,
                    next_attempt_at: match next {
                        AfterFailure::RetryAt { at, .. } => Some(at),
                        AfterFailure::Exhausted => None,
                    },
                    delivery_id: &delivery_id,
                    last_position: ack_to,
                };
                let kept = match next {
                    AfterFailure::RetryAt { delay, .. } => {
                        tracing::info!(attempt, error = %failed.error, retry_in_ms = delay.as_millis() as u64, "delivery failed; will retry");
                        state::record_failure(&**client, lease, &record).await?
                    }
                    AfterFailure::Exhausted if row.on_exhausted == ExhaustedMode::DeadLetter => {
                        tracing::warn!(attempt, error = %failed.error, "attempts exhausted; parking the batch as a dead letter");
                        drop(client);
                        let mut client = self.pool.get().await?;
                        let events_json = serde_json::to_value(&events)?;
                        let letter = NewDeadLetter {
                            store_id: row.store_id,
                            subscription_id: &row.id,
                            delivery_id: &delivery_id,
                            first: events[0].global_position,
                            last: ack_to,
                            events: &events_json,
                            event_count: events.len(),
                            attempts: attempt,
                            last_error: &failed.error,
                        };
                        state::park(&mut client, lease, &letter).await?
                    }
                    AfterFailure::Exhausted => {
                        tracing::warn!(attempt, error = %failed.error, "attempts exhausted; subscription stops with ERROR");
                        state::stop_with_error(&**client, lease, &record).await?
                    }
                };
                Ok(if kept {
                    Step::Progress
                } else {
                    Step::LeaseLost
                })
            }
        }
    }

    /// Renews the lease while a call is in flight; returns only when it is lost.
    async fn keep_lease(&self, lease: &Lease) {
        loop {
            tokio::time::sleep(self.renew_interval()).await;
            match self.renew(lease).await {
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "cannot renew the delivery lease"),
            }
        }
    }
}

/// Waits for a wake-up, `pause`, or cancellation (`true`).
async fn wait(token: &CancellationToken, wake: &mut watch::Receiver<u64>, pause: Duration) -> bool {
    tokio::select! {
        () = token.cancelled() => true,
        _ = wake.changed() => false,
        () = tokio::time::sleep(pause) => false,
    }
}
