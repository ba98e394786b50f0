//! Read-your-writes: answer a request that names a global position only from a read model that
//! has applied it, waiting for the projection when it has not yet — without polling Redis per
//! request.
//!
//! One [`CheckpointWatch`] per process holds the live generation's checkpoint as last seen in a
//! `tokio::sync::watch`. It is fed by
//!
//! * one Redis pub/sub subscription to the projection's checkpoint channel (message
//!   `"<generation> <position>"`): a message about the live generation raises the value at once;
//!   one about another generation (a rebuild, or a switch) with a position above the value
//!   triggers a re-read of the pointer and checkpoint;
//! * a re-read right after each (re)subscription, since messages sent before it are lost;
//! * a slow safety re-read ([`crate::config::WaitSettings::resync`]) while anyone waits, since
//!   pub/sub drops messages while reconnecting;
//! * and every read the service makes, since each one returns its checkpoint.
//!
//! A waiting request sleeps on the watch; when the value reaches its position it re-runs its
//! read, whose own checkpoint decides (so the data answered always reflects the position, even
//! across a generation switch). When the wait runs out the answer is 503 with `Retry-After`.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use redis::Client;
use tokio::sync::watch;
use tokio::time::Instant;

use shared_domain::service::Shutdown;

use crate::metrics::QueryMetrics;
use crate::params::Freshness;
use crate::store::{Read, ReadModelStore, StoreError};

/// Longest pause between attempts to re-subscribe.
const MAX_RESUBSCRIBE_DELAY: Duration = Duration::from_secs(5);

/// Why a read with a freshness demand gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum FreshnessError {
    /// The read itself failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The projection did not reach the position within the wait.
    #[error("the read model reached global position {reached}, not {wanted}, within {waited:?}")]
    NotReached {
        wanted: u64,
        reached: u64,
        waited: Duration,
    },
}

/// The live checkpoint as last seen, shared by every request of the process. Cheap to clone.
#[derive(Clone)]
pub struct CheckpointWatch {
    inner: Arc<Inner>,
}

struct Inner {
    /// Highest checkpoint of the live generation seen so far (the projection's checkpoint only
    /// grows, and a rebuild switches only once the new generation has caught up).
    value: watch::Sender<u64>,
    /// The live generation as last read, to tell which pub/sub messages are about it.
    generation: RwLock<Option<String>>,
    metrics: QueryMetrics,
}

impl std::fmt::Debug for CheckpointWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointWatch")
            .field("value", &self.latest())
            .finish_non_exhaustive()
    }
}

impl CheckpointWatch {
    /// A watch at 0 (nothing seen yet).
    pub fn new(metrics: QueryMetrics) -> Self {
        let (value, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                value,
                generation: RwLock::new(None),
                metrics,
            }),
        }
    }

    /// The highest checkpoint seen.
    pub fn latest(&self) -> u64 {
        *self.inner.value.borrow()
    }

    /// Raises the value to `position` if it is higher, waking the waiters it satisfies.
    pub fn observe(&self, position: u64) {
        // Every read lands here: a shared borrow first, the write lock only to raise.
        if *self.inner.value.borrow() >= position {
            return;
        }
        let raised = self.inner.value.send_if_modified(|value| {
            let raise = position > *value;
            if raise {
                *value = position;
            }
            raise
        });
        if raised {
            self.inner.metrics.checkpoint.set(position as i64);
        }
    }

    /// Records a read's generation and checkpoint.
    fn observe_read<T>(&self, read: &Read<T>) {
        self.set_generation(&read.generation);
        self.observe(read.checkpoint);
    }

    fn set_generation(&self, generation: &str) {
        if self.is_live(generation) {
            return;
        }
        let mut live = self
            .inner
            .generation
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *live = Some(generation.to_owned());
    }

    fn is_live(&self, generation: &str) -> bool {
        let live = self
            .inner
            .generation
            .read()
            .unwrap_or_else(|e| e.into_inner());
        live.as_deref() == Some(generation)
    }

    /// How many requests are waiting now.
    pub fn waiting(&self) -> usize {
        self.inner.value.receiver_count()
    }

    /// Runs `read`; with a `demand`, answers only a read whose checkpoint has reached the demanded
    /// position, waiting for the projection (up to the demand's wait) when it has not.
    pub async fn read_at_least<T, F, Fut>(
        &self,
        demand: Option<Freshness>,
        mut read: F,
    ) -> Result<Read<T>, FreshnessError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Read<T>, StoreError>>,
    {
        let first = read().await?;
        self.observe_read(&first);
        let Some(demand) = demand else {
            return Ok(first);
        };
        let wanted = demand.min_position;
        if first.checkpoint >= wanted {
            return Ok(first);
        }
        let metrics = &self.inner.metrics;
        metrics.waits.inc();
        let started = Instant::now();
        let deadline = started + demand.wait;
        let mut reached = first.checkpoint;
        let mut changes = self.inner.value.subscribe();
        let outcome = loop {
            let seen = *changes.borrow_and_update();
            if seen >= wanted {
                let again = read().await?;
                self.observe_read(&again);
                if again.checkpoint >= wanted {
                    break Ok(again);
                }
                reached = again.checkpoint;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    break Err(FreshnessError::NotReached {
                        wanted,
                        reached,
                        waited: started.elapsed(),
                    });
                }
            }
        };
        metrics
            .wait_seconds
            .observe(started.elapsed().as_secs_f64());
        if outcome.is_err() {
            metrics.wait_timeouts.inc();
        }
        outcome
    }

    /// Re-reads the live generation and its checkpoint.
    async fn refresh(&self, store: &ReadModelStore) {
        match store.checkpoint().await {
            Ok(read) => self.observe_read(&read),
            Err(error) => tracing::debug!(%error, "cannot re-read the checkpoint"),
        }
    }

    /// Handles one message of the checkpoint channel.
    async fn on_message(&self, payload: &str, store: &ReadModelStore) {
        let Some((generation, position)) = parse_message(payload) else {
            tracing::debug!(payload, "ignoring a malformed checkpoint message");
            return;
        };
        if self.is_live(generation) {
            self.observe(position);
        } else if position > self.latest() {
            // A switch to a new generation, or one we have not read yet: learn which is live.
            self.refresh(store).await;
        }
    }

    /// Starts the background tasks that keep the watch current: the pub/sub subscription on
    /// `channel` and the safety re-read every `resync` while anyone waits. Both stop on `stop`.
    pub fn spawn(
        &self,
        client: Client,
        channel: String,
        store: ReadModelStore,
        resync: Duration,
        stop: Shutdown,
    ) {
        let watch = self.clone();
        let (store2, stop2) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = watch.subscription_loop(client, channel, store2) => {}
                () = stop2.cancelled() => {}
            }
            watch.inner.metrics.subscription_up.set(0);
        });
        let watch = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(resync);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        if watch.waiting() > 0 {
                            watch.refresh(&store).await;
                        }
                    }
                    () = stop.cancelled() => return,
                }
            }
        });
    }

    /// Subscribes, re-reads, follows messages; on any loss, waits and starts again. Never ends.
    async fn subscription_loop(&self, client: Client, channel: String, store: ReadModelStore) {
        let metrics = &self.inner.metrics;
        let mut delay = Duration::from_millis(100);
        loop {
            let subscribed = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let pubsub = match tokio::time::timeout(store.timeout(), subscribed).await {
                Ok(Ok(pubsub)) => pubsub,
                Ok(Err(error)) => {
                    tracing::warn!(%error, retry_ms = delay.as_millis() as u64, "cannot subscribe to checkpoint notifications");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RESUBSCRIBE_DELAY);
                    continue;
                }
                Err(_) => {
                    tracing::warn!(
                        retry_ms = delay.as_millis() as u64,
                        "subscribing to checkpoint notifications timed out"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RESUBSCRIBE_DELAY);
                    continue;
                }
            };
            metrics.subscription_up.set(1);
            delay = Duration::from_millis(100);
            tracing::info!(%channel, "subscribed to checkpoint notifications");
            self.refresh(&store).await;
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                match message.get_payload::<String>() {
                    Ok(payload) => self.on_message(&payload, &store).await,
                    Err(error) => tracing::debug!(%error, "ignoring a non-text checkpoint message"),
                }
            }
            metrics.subscription_up.set(0);
            tracing::warn!("checkpoint notifications lost; re-subscribing");
        }
    }
}

/// `"<generation> <position>"` → its parts.
fn parse_message(payload: &str) -> Option<(&str, u64)> {
    let (generation, position) = payload.trim().split_once(' ')?;
    Some((generation, position.trim().parse().ok()?))
}

#[cfg(test)]
mod tests;
