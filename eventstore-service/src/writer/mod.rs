//! Group commit: one writer task per store and replica drains the queue of pending appends and
//! writes them in ONE transaction ([`commit::write_batch`]), then answers each.
//!
//! Why: global positions must be handed out in commit order (so that a reader that has passed
//! position P never later sees an event below P), which means one transaction per store holds
//! the counter row lock at a time. One append per transaction would cap a store at one WAL
//! flush per append; a batch pays one flush for everything that queued up meanwhile.
//!
//! Up to `EVENTSTORE_BATCHES_IN_FLIGHT` batches of one store are written at once, never two with
//! a stream in common ([`task`]): the next batch reads and plans while the one before flushes,
//! and its writes wait at the counter lock, on the server. An append whose stream is not in
//! flight joins the next batch at once; one whose stream is waits for that batch. Batches are
//! bounded by `EVENTSTORE_BATCH_MAX_EVENTS` and [`MAX_BATCH_APPENDS`].
//!
//! A batch whose every append can be planned from the versions the writer has seen commit is
//! written in one round trip without reading first ([`known`]); a stale prediction collides on
//! a unique key, writes nothing, and the batch is read and planned as usual.
//!
//! The writers run on a thread of their own (a current-thread Tokio runtime), with a pool of
//! their own (`EVENTSTORE_WRITER_POOL_SIZE`) whose connections are made — and so driven — on
//! that thread: a batch's statement, its connection's I/O and the next batch's planning never
//! wait for another thread to be scheduled. On this 2-core machine that made 1-event appends at
//! 8 clients about 25 % faster than writers and connections spread over the shared runtime.
//! The thread ends when the last [`Writers`] handle is dropped (after the HTTP server has
//! drained, since every waiting request holds one).
//!
//! Several replicas on one database stay correct: their writers serialize on the counter row
//! lock, and a unique key violation (another replica wrote the same position meanwhile) makes
//! the batch run again with the lock taken first ([`commit::LockMode::First`]).

pub mod commit;
mod known;
mod metrics;
pub mod plan;
mod task;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;
use shared_domain::service::Metrics;
use shared_domain::wire::AppendResult;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::config::Config;
use crate::error::StoreError;
use crate::model::{StoreName, ValidAppend};
use metrics::WriterMetrics;
use task::Writer;

/// Most appends in one batch.
pub const MAX_BATCH_APPENDS: usize = 1000;
/// Pending appends one store's queue holds before appenders wait.
const QUEUE_CAPACITY: usize = 4096;

type Reply = oneshot::Sender<Result<AppendResult, StoreError>>;

/// An append waiting for its batch.
struct Job {
    append: ValidAppend,
    reply: Reply,
}

type Queues = Mutex<HashMap<StoreName, Queue>>;

/// One store's queue: the channel to its writer and the gate the writer gathers behind.
#[derive(Clone)]
struct Queue {
    sender: mpsc::Sender<Job>,
    gate: Arc<Gate>,
}

/// Lets a writer that gathers the appends it expects ([`task`]) sleep until enough are queued,
/// instead of waking for each one: on a 2-core machine every wake-up of the writers' thread
/// competes with the HTTP workers. A missed wake-up (the appender and the writer each looking
/// just before the other wrote) only makes the writer wait out `EVENTSTORE_BATCH_WAIT_US`.
struct Gate {
    notify: Notify,
    /// Queued appends at which to wake the writer (`usize::MAX`: it is not gathering).
    want: AtomicUsize,
}

impl Gate {
    fn new() -> Self {
        Self {
            notify: Notify::new(),
            want: AtomicUsize::new(usize::MAX),
        }
    }
}

impl Queue {
    fn new() -> (Self, mpsc::Receiver<Job>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let gate = Arc::new(Gate::new());
        (Self { sender, gate }, receiver)
    }

    /// Queues `job`; wakes the writer if it gathers and now has what it waits for.
    async fn send(&self, job: Job) -> Result<(), mpsc::error::SendError<Job>> {
        self.sender.send(job).await?;
        let queued = self.sender.max_capacity() - self.sender.capacity();
        if queued >= self.gate.want.load(Ordering::SeqCst) {
            self.gate.notify.notify_one();
        }
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// The writers of one replica, by store. Cheap to clone.
#[derive(Clone)]
pub struct Writers {
    shared: Arc<Shared>,
    queues: Arc<Queues>,
    runtime: tokio::runtime::Handle,
    /// The writers' thread (`None`: it could not be started, and they run on the caller's
    /// runtime); stopped when the last handle goes.
    _thread: Option<Arc<WriterThread>>,
}

/// A thread running a current-thread Tokio runtime until dropped.
struct WriterThread {
    handle: tokio::runtime::Handle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl WriterThread {
    fn start() -> std::io::Result<Self> {
        let (started, handle) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("eventstore-writers".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = started.send(Ok(runtime.handle().clone()));
                        // Until the stop signal, or its sender dropped.
                        let _ = runtime.block_on(stopped);
                    }
                    Err(e) => {
                        let _ = started.send(Err(e));
                    }
                }
            })?;
        let handle = handle
            .recv()
            .map_err(|_| std::io::Error::other("the writers' thread ended at once"))??;
        Ok(Self {
            handle,
            stop: Mutex::new(Some(stop)),
        })
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        let stop = self
            .stop
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    }
}

/// What every writer task needs (not the queues: a writer ends when its queue's senders are gone).
struct Shared {
    pool: Pool,
    batch_max_events: usize,
    batches_in_flight: usize,
    batch_wait: std::time::Duration,
    metrics: WriterMetrics,
}

impl Writers {
    /// No writers yet; `pool` is theirs alone ([`crate::db::writer_pool`]): its connections are
    /// made on the writers' thread. If that thread cannot start, the writers run on the
    /// caller's Tokio runtime.
    pub fn new(pool: Pool, config: Arc<Config>, metrics: &Metrics) -> Self {
        let thread = match WriterThread::start() {
            Ok(thread) => Some(Arc::new(thread)),
            Err(error) => {
                tracing::warn!(%error, "cannot start the writers' thread; they share the runtime");
                None
            }
        };
        let runtime = thread
            .as_ref()
            .map_or_else(tokio::runtime::Handle::current, |t| t.handle.clone());
        Self {
            shared: Arc::new(Shared {
                pool,
                batch_max_events: config.batch_max_events.max(1),
                batches_in_flight: config.batches_in_flight.max(1),
                batch_wait: config.batch_wait,
                metrics: WriterMetrics::new(metrics),
            }),
            queues: Arc::new(Mutex::new(HashMap::new())),
            runtime,
            _thread: thread,
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

    fn queue(&self, store: &StoreName) -> Queue {
        let mut queues = lock(&self.queues);
        if let Some(queue) = queues.get(store).filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        let (queue, receiver) = Queue::new();
        queues.insert(store.clone(), queue.clone());
        let writer = Writer {
            shared: self.shared.clone(),
            queues: Arc::downgrade(&self.queues),
            store: store.clone(),
            known: Default::default(),
            receiver,
            gate: queue.gate.clone(),
            held: Default::default(),
            busy: HashMap::new(),
            closed: false,
            expected: 0,
            gather_until: None,
        };
        self.runtime.spawn(writer.run());
        queue
    }

    fn forget_closed(&self, store: &StoreName) {
        let mut queues = lock(&self.queues);
        if queues.get(store).is_some_and(Queue::is_closed) {
            queues.remove(store);
        }
    }
}

fn lock(queues: &Queues) -> std::sync::MutexGuard<'_, HashMap<StoreName, Queue>> {
    // Nothing panics while the lock is held; a poisoned map is still consistent.
    queues.lock().unwrap_or_else(|p| p.into_inner())
}
