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

use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::QueryMetrics;
use crate::params::Freshness;
use crate::store::{Read, StoreError};

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
}

mod subscription;
#[cfg(test)]
mod tests;
