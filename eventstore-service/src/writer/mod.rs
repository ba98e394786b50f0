//! Group commit: one writer task per store and replica drains the queue of pending appends and
//! writes them in ONE transaction ([`commit::write_batch`]), then answers each.
//!
//! Why: global positions must be handed out in commit order (so that a reader that has passed
//! position P never later sees an event below P), which means one transaction per store holds
//! the counter row lock at a time. One append per transaction would cap a store at one WAL
//! flush per append; a batch pays one flush for everything that queued up meanwhile. An append
//! waits for at most the batch in flight plus its own; batches are bounded by
//! `EVENTSTORE_BATCH_MAX_EVENTS` and [`MAX_BATCH_APPENDS`].
//!
//! Several replicas on one database stay correct: their writers serialize on the counter row
//! lock, and a unique key violation (another replica wrote the same position meanwhile) makes
//! the batch run again with the lock taken first ([`LockMode::First`]).

pub mod commit;
pub mod plan;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use deadpool_postgres::Pool;
use prometheus::{Histogram, HistogramOpts, IntCounter};
use shared_domain::service::Metrics;
use shared_domain::wire::AppendResult;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::error::StoreError;
use crate::model::{StoreName, ValidAppend};
use commit::{BatchError, LockMode, write_batch};

/// Most appends in one batch.
pub const MAX_BATCH_APPENDS: usize = 1000;
/// Pending appends one store's queue holds before appenders wait.
const QUEUE_CAPACITY: usize = 4096;
/// A writer with nothing to do for this long ends (the next append starts a new one).
const IDLE_EXIT: Duration = Duration::from_secs(60);

type Reply = oneshot::Sender<Result<AppendResult, StoreError>>;

/// An append waiting for its batch.
struct Job {
    append: ValidAppend,
    reply: Reply,
}

type Queues = Mutex<HashMap<StoreName, mpsc::Sender<Job>>>;

/// The writers of one replica, by store. Cheap to clone.
#[derive(Clone)]
pub struct Writers {
    shared: Arc<Shared>,
    queues: Arc<Queues>,
    runtime: tokio::runtime::Handle,
}

/// What every writer task needs (not the queues: a writer ends when its queue's senders are gone).
struct Shared {
    pool: Pool,
    batch_max_events: usize,
    metrics: WriterMetrics,
}

impl Writers {
    /// No writers yet. Call inside the Tokio runtime that should run them.
    pub fn new(pool: Pool, config: Arc<Config>, metrics: &Metrics) -> Self {
        Self {
            shared: Arc::new(Shared {
                pool,
                batch_max_events: config.batch_max_events.max(1),
                metrics: WriterMetrics::new(metrics),
            }),
            queues: Arc::new(Mutex::new(HashMap::new())),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Queues `append` for `store`'s next batch and waits for its answer.
    pub async fn append(
        &self,
        store: &StoreName,
        append: ValidAppend,
    ) -> Result<AppendResult, StoreError> {
        let (reply, answer) = oneshot::channel();
        let mut job = Job { append, reply };
        loop {
            let queue = self.queue(store);
            match queue.send(job).await {
                Ok(()) => break,
                // The writer ended after idling; start another.
                Err(mpsc::error::SendError(returned)) => {
                    job = returned;
                    self.forget_closed(store);
                }
            }
        }
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store's writer stopped".to_owned()))?
    }

    fn queue(&self, store: &StoreName) -> mpsc::Sender<Job> {
        let mut queues = lock(&self.queues);
        if let Some(queue) = queues.get(store).filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        queues.insert(store.clone(), sender.clone());
        let writer = Writer {
            shared: self.shared.clone(),
            queues: Arc::downgrade(&self.queues),
            store: store.clone(),
            receiver,
            carry: None,
        };
        self.runtime.spawn(writer.run());
        sender
    }

    fn forget_closed(&self, store: &StoreName) {
        let mut queues = lock(&self.queues);
        if queues.get(store).is_some_and(mpsc::Sender::is_closed) {
            queues.remove(store);
        }
    }
}

fn lock(queues: &Queues) -> std::sync::MutexGuard<'_, HashMap<StoreName, mpsc::Sender<Job>>> {
    // Nothing panics while the lock is held; a poisoned map is still consistent.
    queues.lock().unwrap_or_else(|p| p.into_inner())
}

/// One store's writer task.
struct Writer {
    shared: Arc<Shared>,
    queues: Weak<Queues>,
    store: StoreName,
    receiver: mpsc::Receiver<Job>,
    /// A job taken from the queue that did not fit the previous batch.
    carry: Option<Job>,
}

impl Writer {
    async fn run(mut self) {
        tracing::debug!(store = %self.store, "writer started");
        while let Some(batch) = self.next_batch().await {
            self.write(batch).await;
        }
        if let Some(queues) = self.queues.upgrade() {
            let mut queues = lock(&queues);
            if queues.get(&self.store).is_some_and(mpsc::Sender::is_closed) {
                queues.remove(&self.store);
            }
        }
        tracing::debug!(store = %self.store, "writer ended");
    }

    /// Waits for the first job, then takes whatever else is queued, within the bounds. `None`
    /// when the queue is closed and empty.
    async fn next_batch(&mut self) -> Option<Vec<Job>> {
        let first = match self.carry.take() {
            Some(job) => job,
            None => match tokio::time::timeout(IDLE_EXIT, self.receiver.recv()).await {
                Ok(job) => job?,
                Err(_idle) => {
                    // No new senders from here on; what is queued still gets written.
                    self.receiver.close();
                    self.receiver.recv().await?
                }
            },
        };
        let mut events = first.append.events.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_APPENDS && events < self.shared.batch_max_events {
            let Ok(job) = self.receiver.try_recv() else {
                break;
            };
            let n = job.append.events.len();
            if events + n > self.shared.batch_max_events {
                self.carry = Some(job);
                break;
            }
            events += n;
            batch.push(job);
        }
        Some(batch)
    }

    async fn write(&self, batch: Vec<Job>) {
        // An append whose caller went away (request cancelled) is not written.
        let batch: Vec<Job> = batch.into_iter().filter(|j| !j.reply.is_closed()).collect();
        if batch.is_empty() {
            return;
        }
        let appends: Vec<&ValidAppend> = batch.iter().map(|j| &j.append).collect();
        let started = std::time::Instant::now();
        let answers = self.commit(&appends).await;
        tracing::debug!(
            store = %self.store,
            appends = appends.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "batch written"
        );
        let metrics = &self.shared.metrics;
        metrics.batches.inc();
        metrics.batch_appends.observe(appends.len() as f64);
        let written: usize = answers
            .iter()
            .filter_map(|a| a.as_ref().ok())
            .map(|r| r.events_appended as usize)
            .sum();
        let conflicts = answers
            .iter()
            .filter(|a| matches!(a, Err(StoreError::VersionConflict { .. })))
            .count();
        drop(appends);
        metrics.events.inc_by(written as u64);
        metrics.conflicts.inc_by(conflicts as u64);
        for (job, answer) in batch.into_iter().zip(answers) {
            // The caller may have gone meanwhile; its append is committed regardless.
            let _ = job.reply.send(answer);
        }
    }

    async fn commit(&self, appends: &[&ValidAppend]) -> Vec<Result<AppendResult, StoreError>> {
        let all = |error: StoreError| appends.iter().map(|_| Err(error.clone())).collect();
        let client = match self.shared.pool.get().await {
            Ok(client) => client,
            Err(e) => return all(StoreError::from_pool(&e)),
        };
        let mut mode = LockMode::Late;
        loop {
            match write_batch(&client, &self.store, appends, mode).await {
                Ok(answers) => return answers,
                Err(BatchError::StoreNotFound) => {
                    return all(StoreError::StoreNotFound(self.store.to_string()));
                }
                Err(BatchError::Db(error)) => return all(error),
                Err(BatchError::Collision(constraint)) if mode == LockMode::Late => {
                    tracing::info!(store = %self.store, constraint, "batch collided with another writer; retrying under the lock");
                    self.shared.metrics.collisions.inc();
                    mode = LockMode::First;
                }
                Err(BatchError::Collision(constraint)) => {
                    // Cannot happen while every writer follows the locking protocol.
                    tracing::error!(store = %self.store, constraint, "unique key violated under the counter lock");
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
}

/// The writer's own metrics.
struct WriterMetrics {
    /// `eventstore_append_batches_total`: group-commit transactions run.
    batches: IntCounter,
    /// `eventstore_append_batch_appends`: appends per batch.
    batch_appends: Histogram,
    /// `eventstore_events_appended_total`: events written.
    events: IntCounter,
    /// `eventstore_append_collisions_total`: batches re-run after another replica's write.
    collisions: IntCounter,
    /// `eventstore_append_conflicts_total`: appends refused with `StreamVersionConflict`.
    conflicts: IntCounter,
}

impl WriterMetrics {
    fn new(metrics: &Metrics) -> Self {
        fn counter(metrics: &Metrics, name: &str, help: &str) -> IntCounter {
            let counter = IntCounter::new(name, help).expect("a valid metric name");
            metrics.register(counter.clone()).unwrap_or(counter)
        }
        let histogram = Histogram::with_opts(
            HistogramOpts::new(
                "eventstore_append_batch_appends",
                "Appends per group commit",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1000.0,
            ]),
        )
        .expect("a valid metric");
        Self {
            batches: counter(
                metrics,
                "eventstore_append_batches_total",
                "Group-commit transactions run",
            ),
            batch_appends: metrics.register(histogram.clone()).unwrap_or(histogram),
            events: counter(
                metrics,
                "eventstore_events_appended_total",
                "Events written",
            ),
            collisions: counter(
                metrics,
                "eventstore_append_collisions_total",
                "Batches re-run under the lock after another replica wrote meanwhile",
            ),
            conflicts: counter(
                metrics,
                "eventstore_append_conflicts_total",
                "Appends refused because the stream was not at the expected version",
            ),
        }
    }
}
