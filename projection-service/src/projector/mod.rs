//! The projections as a library: [`Projector::apply`] turns a batch of order events into the
//! Redis read models (`OrderSummary`, `CustomerOrders`, `OrderAnalytics` and the status
//! indexes) with an exactly-once effect per event, and [`Projector::checkpoint`] says how far it
//! got. The webhook route and the rebuild both go through here; the query service's tests use
//! it to fill Redis with the real projection code.
//!
//! How exactly-once holds: each event is ONE Lua script (`lua/apply_event.lua`) that reads the
//! order's `_revision` and returns early when the event's stream position is not above it;
//! otherwise it writes the summary, the indexes and the analytics counters, all under one hash
//! tag, in that same atomic step. Duplicates, overlapping batches and two replicas delivering
//! the same batch at the same time therefore change nothing twice. A batch is one pipeline (one
//! round trip); the checkpoint moves once the whole batch is in.
//!
//! An event other than `order.placed` for an order with no summary means events are missing
//! (delivery is ordered per subscription, and the subscription includes `order.placed`):
//! [`ProjectionError::MissingPredecessor`], answered with a 5xx so the store retries and, if it
//! keeps failing, stops the subscription visibly (status `ERROR`) instead of the walkthrough's
//! silent skip that would leave the read models wrong for good. A rebuild repairs it.

mod event;
pub(crate) mod scripts;

use redis::aio::ConnectionManager;
use serde::Serialize;
use shared_domain::event::ReadEvent;
use shared_domain::orders::OrderStatus;
use shared_domain::read_model::{
    GenerationKeys, ReadModelKeys, analytics_fields, generation_or_default,
    summary_amount_chunk_field,
};

use event::{Change, ProjectedEvent, project_all};
use scripts::{ADVANCE_CHECKPOINT, APPLY_EVENT, query_with_scripts};

/// How often [`Projector::apply`] follows a generation switch that happens while it writes.
const MAX_GENERATION_RETRIES: usize = 5;

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    /// Events that changed the read models.
    pub applied: usize,
    /// Events already applied before (duplicate, replayed or concurrent delivery).
    pub duplicates: usize,
    /// Events of types these projections do not handle.
    pub skipped: usize,
    /// The generation's checkpoint after the batch.
    pub checkpoint: u64,
}

impl ApplyReport {
    fn add(&mut self, other: ApplyReport) {
        self.applied += other.applied;
        self.duplicates += other.duplicates;
        self.skipped += other.skipped;
        self.checkpoint = self.checkpoint.max(other.checkpoint);
    }
}

/// Why a batch was not (fully) applied.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// An event does not have the shape of its type; nothing of the batch was written.
    #[error("{message}")]
    InvalidEvent {
        index: usize,
        /// JSON path of the offending field, e.g. `events[3].data.customerId`.
        field: String,
        message: String,
    },
    /// An event other than `order.placed` for an order whose `order.placed` was never applied:
    /// events are missing from the delivery. Earlier events of the batch are applied (and
    /// idempotent); this one and the checkpoint are not.
    #[error(
        "{event_type} at global position {global_position} is for order {order_id}, whose \
         order.placed was never applied: events are missing from the delivery"
    )]
    MissingPredecessor {
        order_id: String,
        event_type: String,
        stream_position: u64,
        global_position: u64,
    },
    /// `order.placed` for an order that already has a read model at a lower revision.
    #[error(
        "order.placed at stream position {stream_position} for order {order_id}, which \
         already exists: the stream is inconsistent"
    )]
    InconsistentStream {
        order_id: String,
        stream_position: u64,
        global_position: u64,
    },
    /// Redis failed or is unreachable; retrying the batch is safe.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The live generation kept changing while the batch was written (rebuilds in a loop).
    #[error("the live generation changed {MAX_GENERATION_RETRIES} times during one batch")]
    GenerationChurn,
}

/// Applies events to the read models of one namespace. Cheap to clone.
#[derive(Clone)]
pub struct Projector {
    /// Multiplexed and self-reconnecting; each batch is one pipeline on it.
    redis: ConnectionManager,
    keys: ReadModelKeys,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// The outcome of writing a batch into one generation.
enum Written {
    Done(ApplyReport),
    /// The generation stopped being live part-way: apply the batch again to the new one.
    Stale(ApplyReport),
}

impl Projector {
    /// A projector writing under `keys` through `redis`.
    pub fn new(redis: ConnectionManager, keys: ReadModelKeys) -> Self {
        Self { redis, keys }
    }

    /// The key layout it writes.
    pub fn keys(&self) -> &ReadModelKeys {
        &self.keys
    }

    /// The Redis connection it uses.
    pub fn redis(&self) -> &ConnectionManager {
        &self.redis
    }

    /// Applies a batch (in global order) to the live generation. Every event is checked first,
    /// so an invalid one fails the batch with nothing written. Safe to call again with the same
    /// or overlapping events, also concurrently.
    pub async fn apply(&self, events: &[ReadEvent]) -> Result<ApplyReport, ProjectionError> {
        let mut projected = project_all(events)?;
        projected.sort_by_key(|e| e.global_position);
        let mut total = ApplyReport::default();
        for _ in 0..MAX_GENERATION_RETRIES {
            let generation = self.live_generation().await?;
            match self
                .write(&generation, &projected, Some(&generation))
                .await?
            {
                Written::Done(report) => {
                    // Events applied to the old generation before a switch count as applied.
                    total.add(report);
                    return Ok(total);
                }
                Written::Stale(partial) => {
                    tracing::info!(
                        generation,
                        "generation switched during a batch; applying again"
                    );
                    total.applied += partial.applied;
                }
            }
        }
        Err(ProjectionError::GenerationChurn)
    }

    /// The live generation's checkpoint: the last global position applied (0 = none).
    pub async fn checkpoint(&self) -> Result<u64, ProjectionError> {
        let generation = self.live_generation().await?;
        self.checkpoint_of(&generation).await
    }

    /// The checkpoint of one generation.
    pub async fn checkpoint_of(&self, generation: &str) -> Result<u64, ProjectionError> {
        let mut conn = self.redis.clone();
        let value: Option<u64> = redis::cmd("GET")
            .arg(self.keys.generation(generation).checkpoint())
            .query_async(&mut conn)
            .await?;
        Ok(value.unwrap_or(0))
    }

    /// The generation queries read now.
    pub async fn live_generation(&self) -> Result<String, ProjectionError> {
        let mut conn = self.redis.clone();
        let pointer: Option<String> = redis::cmd("GET")
            .arg(self.keys.generation_pointer())
            .query_async(&mut conn)
            .await?;
        Ok(generation_or_default(pointer))
    }

    /// Applies a batch to `generation` whether or not it is live, without looking at the
    /// pointer: how a rebuild fills a fresh generation. Same checks and guarantees as
    /// [`Self::apply`].
    pub async fn apply_to_generation(
        &self,
        generation: &str,
        events: &[ReadEvent],
    ) -> Result<ApplyReport, ProjectionError> {
        let mut projected = project_all(events)?;
        projected.sort_by_key(|e| e.global_position);
        match self.write(generation, &projected, None).await? {
            Written::Done(report) | Written::Stale(report) => Ok(report),
        }
    }

    /// One pipeline of apply scripts, then (only if every event went in) the checkpoint.
    /// `live` = the generation the caller read from the pointer; each script re-checks it.
    async fn write(
        &self,
        generation: &str,
        events: &[ProjectedEvent],
        live: Option<&str>,
    ) -> Result<Written, ProjectionError> {
        let keys = self.keys.generation(generation);
        let mut report = ApplyReport::default();
        let mut pipe = redis::pipe();
        let mut scripted = Vec::with_capacity(events.len());
        for event in events {
            match event.kind() {
                Some(_) => {
                    pipe.invoke_script(&self.invocation(&keys, event, live.unwrap_or("")));
                    scripted.push(event);
                }
                None => report.skipped += 1,
            }
        }
        let outcomes: Vec<i64> = if scripted.is_empty() {
            Vec::new()
        } else {
            query_with_scripts(&self.redis, &pipe, &[&APPLY_EVENT]).await?
        };
        let mut stale = false;
        for (event, outcome) in scripted.iter().zip(outcomes) {
            match outcome {
                1 => report.applied += 1,
                0 => report.duplicates += 1,
                -2 => stale = true,
                -1 => {
                    return Err(ProjectionError::MissingPredecessor {
                        order_id: event.order_id.clone(),
                        event_type: event.event_type.clone(),
                        stream_position: event.stream_position,
                        global_position: event.global_position,
                    });
                }
                _ => {
                    return Err(ProjectionError::InconsistentStream {
                        order_id: event.order_id.clone(),
                        stream_position: event.stream_position,
                        global_position: event.global_position,
                    });
                }
            }
        }
        if stale {
            return Ok(Written::Stale(report));
        }
        let last = events.iter().map(|e| e.global_position).max().unwrap_or(0);
        report.checkpoint = self.advance_checkpoint(generation, last).await?;
        Ok(Written::Done(report))
    }

    /// Moves `generation`'s checkpoint to at least `position` (announcing it) and returns it.
    pub(crate) async fn advance_checkpoint(
        &self,
        generation: &str,
        position: u64,
    ) -> Result<u64, ProjectionError> {
        let mut pipe = redis::pipe();
        pipe.invoke_script(
            ADVANCE_CHECKPOINT
                .key(self.keys.generation(generation).checkpoint())
                .arg(position)
                .arg(self.keys.checkpoint_channel())
                .arg(generation),
        );
        let (checkpoint,): (u64,) =
            query_with_scripts(&self.redis, &pipe, &[&ADVANCE_CHECKPOINT]).await?;
        Ok(checkpoint)
    }

    fn invocation(
        &self,
        keys: &GenerationKeys,
        event: &ProjectedEvent,
        live: &str,
    ) -> redis::ScriptInvocation<'static> {
        let mut invocation = APPLY_EVENT.prepare_invoke();
        invocation
            .key(self.keys.generation_pointer())
            .key(keys.order_summary(&event.order_id))
            .key(keys.all_orders());
        for status in OrderStatus::ALL {
            invocation.key(keys.orders_by_status(status));
        }
        match &event.change {
            Change::Placed { customer_id, .. } => invocation.key(keys.customer_orders(customer_id)),
            _ => invocation.key(keys.all_orders()),
        };
        invocation
            .key(keys.analytics())
            .key(keys.high_water())
            .arg(live)
            .arg(event.kind().unwrap_or_default())
            .arg(&event.order_id)
            .arg(event.stream_position)
            .arg(event.global_position);
        match &event.change {
            Change::Placed {
                customer_id,
                total_amount,
                revenue,
                item_count,
                placed_at,
            } => {
                invocation
                    .arg(customer_id)
                    .arg(total_amount)
                    .arg(item_count)
                    .arg(placed_at)
                    .arg(revenue.len());
                for &(exponent, value) in revenue {
                    invocation
                        .arg(summary_amount_chunk_field(exponent))
                        .arg(analytics_fields::revenue_chunk(exponent))
                        .arg(analytics_fields::revenue_chunk_in(
                            OrderStatus::Pending,
                            exponent,
                        ))
                        .arg(value);
                }
                &mut invocation
            }
            Change::Shipped {
                tracking_number,
                carrier,
                shipped_at,
            } => invocation.arg(tracking_number).arg(carrier).arg(shipped_at),
            Change::Delivered { delivered_at } => invocation.arg(delivered_at),
            Change::Cancelled { cancelled_at } => invocation.arg(cancelled_at),
            Change::Ignored => &mut invocation,
        };
        invocation
    }
}
