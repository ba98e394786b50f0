//! One store's writer task: forms batches from the queue and keeps up to
//! `EVENTSTORE_BATCHES_IN_FLIGHT` of them in flight at once.
//!
//! Batches in flight never share a stream: an append whose stream is in a batch still being
//! written waits (in order, behind any earlier append of that stream) for the next batch. So
//! each batch's reads see everything the batches before it wrote to its streams, and a batch
//! that rolls back cannot invalidate another's plan. Their transactions meet at the counter row
//! lock, which PostgreSQL hands from one to the next without a client round trip: while one batch
//! flushes its commit, the next has already read, planned and sent its writes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use shared_domain::wire::AppendResult;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use super::commit::{BatchError, LockMode, Written, write_batch, write_predicted};
use super::known::KnownVersions;
use super::{Gate, Job, MAX_BATCH_APPENDS, Queue, Queues, Shared, lock};
use crate::db::DetachOnPanic;
use crate::error::StoreError;
use crate::model::{StoreName, ValidAppend};

/// A writer with nothing to do for this long ends (the next append starts a new one).
const IDLE_EXIT: Duration = Duration::from_secs(60);
/// Appends held back (their stream busy) beyond which the queue is not read further.
const MAX_HELD: usize = 4 * MAX_BATCH_APPENDS;

/// One store's writer task.
pub(super) struct Writer {
    pub shared: Arc<Shared>,
    pub queues: Weak<Queues>,
    pub store: StoreName,
    /// What the store's batches showed of its streams, shared by the batches in flight.
    pub known: Arc<Mutex<KnownVersions>>,
    pub receiver: mpsc::Receiver<Job>,
    /// Where appenders wake this writer while it gathers.
    pub gate: Arc<Gate>,
    /// Appends taken from the queue and not yet in a batch, in arrival order.
    pub held: VecDeque<Job>,
    /// Streams of the batches in flight, by task.
    pub busy: HashMap<Id, Vec<String>>,
    /// Whether the queue is closed and drained.
    pub closed: bool,
    /// Appends the next batch can expect soon: those queued when the last batch in flight ended
    /// plus that batch's own (whose callers tend to come back at once).
    pub expected: usize,
    /// Until when the next batch waits for `expected` appends.
    pub gather_until: Option<Instant>,
}

impl Writer {
    pub async fn run(mut self) {
        tracing::debug!(store = %self.store, "writer started");
        let mut in_flight: JoinSet<usize> = JoinSet::new();
        loop {
            if in_flight.is_empty() {
                self.gather().await;
            }
            while in_flight.len() < self.shared.batches_in_flight {
                let Some((batch, streams)) = self.next_batch() else {
                    break;
                };
                let (shared, store) = (self.shared.clone(), self.store.clone());
                let known = self.known.clone();
                let handle = in_flight.spawn(write_and_answer(shared, store, known, batch));
                self.busy.insert(handle.id(), streams);
            }
            if in_flight.is_empty() && self.held.is_empty() {
                if self.closed {
                    break;
                }
                self.wait_for_job().await;
                continue;
            }
            let room = in_flight.len() < self.shared.batches_in_flight;
            tokio::select! {
                Some(done) = in_flight.join_next_with_id() => {
                    let (id, size) = match done {
                        Ok((id, size)) => (id, size),
                        Err(e) => {
                            tracing::error!(store = %self.store, error = %e, "a batch task failed");
                            (e.id(), 0)
                        }
                    };
                    self.busy.remove(&id);
                    if in_flight.is_empty() {
                        self.expect_after(size);
                    }
                }
                job = self.receiver.recv(), if room && !self.closed => match job {
                    Some(job) => self.held.push_back(job),
                    None => self.closed = true,
                },
                // Nothing in flight and the queue closed: the loop forms a batch from `held`.
                else => {}
            }
        }
        if let Some(queues) = self.queues.upgrade() {
            let mut queues = lock(&queues);
            if queues.get(&self.store).is_some_and(Queue::is_closed) {
                queues.remove(&self.store);
            }
        }
        tracing::debug!(store = %self.store, "writer ended");
    }

    /// The last batch in flight, of `size` appends, just ended: when more than one append can
    /// be expected soon, the next batch waits up to `EVENTSTORE_BATCH_WAIT_US` for them rather
    /// than going with the first and leaving the rest to the batch after (closed-loop callers
    /// would otherwise split into two alternating halves, each paying a commit flush).
    fn expect_after(&mut self, size: usize) {
        self.expected = (self.held.len() + self.receiver.len() + size).min(MAX_BATCH_APPENDS);
        let wait = self.shared.batch_wait;
        self.gather_until = (self.expected > 1 && !wait.is_zero()).then(|| Instant::now() + wait);
    }

    /// Waits (see [`expect_after`](Self::expect_after)) until the expected appends are queued
    /// or the time is up, woken once by the appender that completes them ([`Gate`]), not by
    /// each. They stay in the queue; the next batch takes them.
    async fn gather(&mut self) {
        let Some(deadline) = self.gather_until.take() else {
            return;
        };
        let gate = self.gate.clone();
        while !self.closed && self.held.len() < self.expected {
            let wanted = self.expected - self.held.len();
            gate.want.store(wanted, Ordering::SeqCst);
            // Queued before `want` was set: its appender did not wake us.
            if self.receiver.len() >= wanted || self.receiver.is_closed() {
                break;
            }
            tokio::select! {
                () = gate.notify.notified() => {}
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        gate.want.store(usize::MAX, Ordering::SeqCst);
    }

    /// Idle: waits for the next append; after [`IDLE_EXIT`] closes the queue (what is queued
    /// still gets written) so the task can end.
    async fn wait_for_job(&mut self) {
        match tokio::time::timeout(IDLE_EXIT, self.receiver.recv()).await {
            Ok(Some(job)) => self.held.push_back(job),
            Ok(None) => self.closed = true,
            Err(_idle) => self.receiver.close(),
        }
    }

    /// The next batch from the held appends and the queue, with its streams: appends whose
    /// stream is not in flight, in arrival order per stream, within the size bounds. `None` when
    /// no append can go now.
    fn next_batch(&mut self) -> Option<(Vec<Job>, Vec<String>)> {
        let mut blocked: HashSet<String> = self.busy.values().flatten().cloned().collect();
        let mut batch = Vec::new();
        let mut events = 0;
        let mut full = false;
        let mut still_held = VecDeque::with_capacity(self.held.len());
        for job in std::mem::take(&mut self.held) {
            // An append whose caller went away (request cancelled) is not written.
            if job.reply.is_closed() {
                continue;
            }
            if !full && self.fits(&job, &batch, events) && !blocked.contains(stream(&job)) {
                events += job.append.events.len();
                batch.push(job);
            } else {
                full |= !batch.is_empty() && !self.fits(&job, &batch, events);
                blocked.insert(stream(&job).to_owned());
                still_held.push_back(job);
            }
        }
        self.held = still_held;
        while !full && self.held.len() < MAX_HELD {
            let Ok(job) = self.receiver.try_recv() else {
                break;
            };
            if job.reply.is_closed() {
                continue;
            }
            if blocked.contains(stream(&job)) {
                self.held.push_back(job);
            } else if self.fits(&job, &batch, events) {
                events += job.append.events.len();
                batch.push(job);
            } else {
                self.held.push_back(job);
                full = true;
            }
        }
        if batch.is_empty() {
            return None;
        }
        let mut streams: Vec<String> = batch.iter().map(|j| stream(j).to_owned()).collect();
        streams.sort_unstable();
        streams.dedup();
        Some((batch, streams))
    }

    /// Whether `job` may join `batch`: the first always may; others within the bounds.
    fn fits(&self, job: &Job, batch: &[Job], events: usize) -> bool {
        batch.is_empty()
            || (batch.len() < MAX_BATCH_APPENDS
                && events + job.append.events.len() <= self.shared.batch_max_events)
    }
}

fn stream(job: &Job) -> &str {
    job.append.stream_id.as_str()
}

/// Writes one batch and answers each of its appends; the batch's size.
async fn write_and_answer(
    shared: Arc<Shared>,
    store: StoreName,
    known: Arc<Mutex<KnownVersions>>,
    batch: Vec<Job>,
) -> usize {
    let appends: Vec<&ValidAppend> = batch.iter().map(|j| &j.append).collect();
    let started = Instant::now();
    let answers = commit(&shared, &store, &known, &appends).await;
    tracing::debug!(
        store = %store,
        appends = appends.len(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "batch written"
    );
    let metrics = &shared.metrics;
    metrics
        .batch_seconds
        .observe(started.elapsed().as_secs_f64());
    metrics.batches.inc();
    metrics.batch_appends.observe(appends.len() as f64);
    let written: u64 = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .map(|r| r.events_appended)
        .sum();
    let conflicts = answers
        .iter()
        .filter(|a| matches!(a, Err(StoreError::VersionConflict { .. })))
        .count();
    metrics.events.inc_by(written);
    metrics.conflicts.inc_by(conflicts as u64);
    drop(appends);
    let size = batch.len();
    for (job, answer) in batch.into_iter().zip(answers) {
        // The caller may have gone meanwhile; its append is committed regardless.
        let _ = job.reply.send(answer);
    }
    size
}

/// One transaction for the batch: predicted from what is known when that plan writes every
/// append; otherwise, or when the prediction was stale, reading first; after a collision with
/// another replica there, once more with the lock taken first.
async fn commit(
    shared: &Shared,
    store: &StoreName,
    known: &Mutex<KnownVersions>,
    appends: &[&ValidAppend],
) -> Vec<Result<AppendResult, StoreError>> {
    let all = |error: StoreError| appends.iter().map(|_| Err(error.clone())).collect();
    let client = match shared.pool.get().await {
        Ok(client) => DetachOnPanic::new(client),
        Err(e) => return all(StoreError::from_pool(&e)),
    };
    let prediction = lock_known(known).snapshot(appends);
    if let Some((store_id, snapshot)) = prediction {
        match write_predicted(&client, store, store_id, appends, &snapshot).await {
            Ok(Some(written)) => return learn(known, written),
            Ok(None) => {}
            Err(BatchError::Db(error)) => return all(error),
            // Nothing was written; the reading path finds out what changed (or that the store
            // is gone).
            Err(stale) => {
                tracing::debug!(%store, cause = ?stale, "prediction was stale; reading");
                shared.metrics.stale_predictions.inc();
            }
        }
    }
    let mut mode = LockMode::Late;
    loop {
        match write_batch(&client, store, appends, mode).await {
            Ok(written) => return learn(known, written),
            Err(BatchError::StoreNotFound) => {
                lock_known(known).forget();
                return all(StoreError::StoreNotFound(store.to_string()));
            }
            Err(BatchError::Db(error)) => return all(error),
            Err(BatchError::Collision(constraint)) if mode == LockMode::Late => {
                tracing::info!(%store, constraint, "batch collided with another writer; retrying under the lock");
                shared.metrics.collisions.inc();
                mode = LockMode::First;
            }
            Err(BatchError::Collision(constraint)) => {
                // Cannot happen while every writer follows the locking protocol.
                tracing::error!(%store, constraint, "unique key violated under the counter lock");
                return appends
                    .iter()
                    .map(|a| {
                        Err(StoreError::VersionConflict {
                            stream_id: a.stream_id.to_string(),
                            expected: a.expected,
                            current: None,
                        })
                    })
                    .collect();
            }
        }
    }
}

/// Records what a committed batch showed; its answers.
fn learn(known: &Mutex<KnownVersions>, written: Written) -> Vec<Result<AppendResult, StoreError>> {
    lock_known(known).learn(
        written.store_id,
        written.versions.iter().map(|(s, v)| (s.as_str(), *v)),
    );
    written.answers
}

fn lock_known(known: &Mutex<KnownVersions>) -> std::sync::MutexGuard<'_, KnownVersions> {
    // Nothing panics while the lock is held; the map is consistent either way.
    known.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
