//! [`ReadModelStore`]: the query side's only door to Redis. Every read is one round trip (one
//! script, see [`scripts`]) bounded by a time-out, and answers the data together with the
//! generation and checkpoint it came from ([`Read`]). With a [`SummaryCache`] (see [`cache`]),
//! single-order reads and list pages that hit need no round trip (pages: see `page_cache`), and
//! other list pages read only their index and revisions.

pub mod cache;
mod page;
mod page_cache;
pub mod scripts;
mod templates;
mod tracking;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus::IntGauge;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script, ScriptInvocation};
use shared_domain::orders::OrderStatus;
use shared_domain::read_model::{
    OrderAnalytics, OrderSummary, ReadModelError, ReadModelKeys, summary_fields,
};
use shared_domain::service::Shutdown;

use crate::cursor::Cursor;
pub use cache::PageReadTicket;
pub use cache::{Summary, SummaryCache};
pub use page::{Page, PageEntry, RenderedPage};
use page::{page_from_cache, page_from_reply};
use page_cache::PageAt;
use templates::{KeyTemplate, Templates};
pub use tracking::client_name as tracking_client_name;

/// A hash as `HGETALL` answers it.
type Hash = HashMap<String, String>;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis did not answer within the configured time-out.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis refused the connection or the command.
    #[error("Redis error: {0}")]
    Redis(#[from] RedisError),
    /// Redis answered something the projection never writes.
    #[error("unexpected read-model data: {0}")]
    Corrupt(String),
}

impl From<ReadModelError> for StoreError {
    fn from(error: ReadModelError) -> Self {
        Self::Corrupt(error.to_string())
    }
}

/// Data read from one generation, with that generation's checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Read<T> {
    /// The generation the data came from (`g0`, `g1`, …).
    pub generation: String,
    /// The last global position the projection had applied to that generation.
    pub checkpoint: u64,
    /// The data.
    pub value: T,
}

impl<T> Read<T> {
    /// The same read with `f` made of its data.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Read<U> {
        Read {
            generation: self.generation,
            checkpoint: self.checkpoint,
            value: f(self.value),
        }
    }
}

/// Which index a list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListIndex<'a> {
    /// Every order.
    All,
    /// Orders now in one status.
    Status(OrderStatus),
    /// One customer's orders.
    Customer(&'a str),
}

/// Reads the read models of one namespace. Cheap to clone (one shared multiplexed connection).
#[derive(Clone)]
pub struct ReadModelStore {
    /// Multiplexed, reconnecting connection shared by every request.
    connection: ConnectionManager,
    /// The client it came from.
    client: Client,
    /// Key layout of the namespace, from shared-domain.
    keys: ReadModelKeys,
    /// The generation-independent key templates the scripts take.
    templates: Arc<Templates>,
    /// Bound on one round trip, reconnection included.
    timeout: Duration,
    /// Summaries held in the process, if enabled.
    cache: Option<Arc<SummaryCache>>,
}

impl std::fmt::Debug for ReadModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModelStore")
            .field("keys", &self.keys)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ReadModelStore {
    /// A store over `redis_url`. Does not connect yet: the service starts (and answers 503)
    /// while Redis is down, and connects on the first read.
    pub fn open(redis_url: &str, namespace: &str, timeout: Duration) -> Result<Self, RedisError> {
        let client = Client::open(redis_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        let keys = ReadModelKeys::new(namespace);
        Ok(Self {
            connection,
            client,
            templates: Arc::new(Templates::new(&keys)),
            keys,
            timeout,
            cache: None,
        })
    }

    /// The same store with `cache` in front of its summary reads. The cache stays off until
    /// [`spawn_tracking`](Self::spawn_tracking) has it receiving invalidations.
    pub fn with_cache(mut self, cache: Arc<SummaryCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Starts the task that keeps the cache current (and on while it can), until `stop`;
    /// `up` is set to 1 while it is on. Nothing without a cache.
    pub fn spawn_tracking(&self, up: IntGauge, stop: Shutdown) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let invalidations = tracking::Invalidations::new(cache, &self.keys, self.templates.clone());
        tokio::spawn(tracking::run(
            self.client.clone(),
            invalidations,
            self.timeout,
            up,
            stop,
        ));
    }

    /// The bound on one round trip.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The Redis client (for connections of other kinds, such as pub/sub).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The key layout read.
    pub fn keys(&self) -> &ReadModelKeys {
        &self.keys
    }

    /// One order's summary (`None`: no such order), from a read whose checkpoint has reached
    /// `min_checkpoint` if the cache holds one (0: any), otherwise from Redis.
    pub async fn order(
        &self,
        order_id: &str,
        min_checkpoint: u64,
    ) -> Result<Read<Option<Summary>>, StoreError> {
        if let Some(hit) = self
            .cache
            .as_ref()
            .and_then(|c| c.order(order_id, min_checkpoint))
        {
            return Ok(hit);
        }
        let ticket = self.cache.as_ref().map(|c| c.ticket());
        let mut call = self.invocation(&scripts::ORDER);
        self.templates.summary.push_args(&mut call, order_id);
        let (generation, checkpoint, hash): (String, String, Hash) = self.run(&call).await?;
        let checkpoint = parse_position(&checkpoint)?;
        let summary = OrderSummary::from_hash(&hash)?
            .map(|s| Summary::of(&s))
            .transpose()?;
        if let (Some(cache), Some(ticket), Some(summary)) = (&self.cache, &ticket, &summary) {
            cache.store(ticket, order_id, &generation, checkpoint, summary.clone());
        }
        Ok(Read {
            generation,
            checkpoint,
            value: summary,
        })
    }

    /// The current generation's checkpoint.
    pub async fn checkpoint(&self) -> Result<Read<()>, StoreError> {
        let call = self.invocation(&scripts::CHECKPOINT);
        let (generation, checkpoint): (String, String) = self.run(&call).await?;
        Ok(Read {
            generation,
            checkpoint: parse_position(&checkpoint)?,
            value: (),
        })
    }

    /// The analytics read model.
    pub async fn analytics(&self) -> Result<Read<OrderAnalytics>, StoreError> {
        let mut call = self.invocation(&scripts::ANALYTICS);
        self.templates.analytics.push_args(&mut call, "");
        let (generation, checkpoint, hash): (String, String, Hash) = self.run(&call).await?;
        Ok(Read {
            generation,
            checkpoint: parse_position(&checkpoint)?,
            value: OrderAnalytics::from_hash(&hash)?,
        })
    }

    /// One page of `index`, newest first, starting after `cursor`, from a read whose checkpoint
    /// has reached `min_checkpoint` if the cache holds one (0: any).
    ///
    /// With the cache on: a page the cache holds whole ([`SummaryCache::page`]) needs no round
    /// trip. Otherwise first the index walk with only revisions: a page whose every summary the
    /// cache holds at exactly that generation and revision is answered from it. Otherwise (or
    /// without a cache) one read of the walk with every summary, which fills the cache. Either
    /// read's page is kept for next time.
    pub async fn page(
        &self,
        index: ListIndex<'_>,
        cursor: Option<&Cursor>,
        limit: usize,
        min_checkpoint: u64,
    ) -> Result<Read<Arc<RenderedPage>>, StoreError> {
        let customer_template;
        let index_template = match index {
            ListIndex::All => &self.templates.all_orders,
            ListIndex::Status(status) => self.templates.status(status),
            ListIndex::Customer(customer_id) => {
                customer_template = KeyTemplate::customer_orders(&self.keys, customer_id);
                &customer_template
            }
        };
        let at = PageAt {
            index: index_template.rest(),
            after: cursor,
            limit,
        };
        let cache = self.cache.as_deref();
        if let Some(cache) = cache.filter(|c| c.is_live()) {
            if let Some(hit) = cache.page(&at, min_checkpoint) {
                return Ok(hit);
            }
            let ticket = cache.page_ticket();
            let fields = [summary_fields::REVISION];
            let call = self.page_call(
                &scripts::PAGE_REVISIONS,
                index_template,
                cursor,
                limit,
                &fields,
            );
            type Reply = (String, String, Vec<String>, String);
            let (generation, checkpoint, found, revisions): Reply = self.run(&call).await?;
            let checkpoint = parse_position(&checkpoint)?;
            if let Some(page) = page_from_cache(cache, &generation, &found, &revisions, limit)? {
                let read = Read {
                    generation,
                    checkpoint,
                    value: page,
                };
                let rendered = Arc::new(read.value.render(&read.generation));
                cache.store_page(&ticket, &at, &read, &rendered);
                return Ok(read.map(|_| rendered));
            }
        }
        let ticket = cache.map(SummaryCache::page_ticket);
        let call = self.page_call(
            &scripts::PAGE,
            index_template,
            cursor,
            limit,
            &summary_fields::ALL,
        );
        type Reply = (String, String, Vec<String>, Vec<u8>);
        let (generation, checkpoint, found, summaries): Reply = self.run(&call).await?;
        let checkpoint = parse_position(&checkpoint)?;
        let summaries: Vec<Option<Vec<Option<String>>>> = serde_json::from_slice(&summaries)
            .map_err(|e| StoreError::Corrupt(format!("page summaries: {e}")))?;
        let read = Read {
            generation,
            checkpoint,
            value: page_from_reply(&found, summaries, limit)?,
        };
        let rendered = Arc::new(read.value.render(&read.generation));
        if let (Some(cache), Some(ticket)) = (cache, ticket) {
            for entry in &read.value.entries {
                if let Some(summary) = &entry.summary {
                    let id = &entry.position.order_id;
                    cache.store(
                        &ticket.summaries,
                        id,
                        &read.generation,
                        checkpoint,
                        summary.clone(),
                    );
                }
            }
            cache.store_page(&ticket, &at, &read, &rendered);
        }
        Ok(read.map(|_| rendered))
    }

    /// The invocation of a page script ([`scripts::PAGE`] or [`scripts::PAGE_REVISIONS`]) over
    /// the index `index_template` names.
    fn page_call<'s>(
        &self,
        script: &'s Script,
        index_template: &KeyTemplate,
        cursor: Option<&Cursor>,
        limit: usize,
        fields: &[&str],
    ) -> ScriptInvocation<'s> {
        let mut call = self.invocation(script);
        index_template.push_args(&mut call, "");
        self.templates.summary.push_args(&mut call, "");
        call.arg(limit);
        match cursor {
            Some(c) => call.arg(c.score).arg(&c.order_id),
            None => call.arg("").arg(""),
        };
        call.arg(fields);
        call
    }

    /// `PING`, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let ping = redis::cmd("PING");
        let _: String = bounded(self.timeout, ping.query_async(&mut connection)).await?;
        Ok(())
    }

    /// A script invocation with the keys and arguments every script takes first.
    fn invocation<'s>(&self, script: &'s Script) -> ScriptInvocation<'s> {
        let mut call = script.key(self.keys.generation_pointer());
        self.templates.checkpoint.push_args(&mut call, "");
        call
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        call: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        bounded(self.timeout, call.invoke_async(&mut connection)).await
    }
}

/// `future`, or [`StoreError::Timeout`] after `timeout`.
async fn bounded<T>(
    timeout: Duration,
    future: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(StoreError::Timeout(timeout)),
    }
}

/// A checkpoint or score as Redis prints it (`"42"`; a double such as `"42.0"` is accepted).
fn parse_position(text: &str) -> Result<u64, StoreError> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    match text.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.fract() == 0.0 && x < 2f64.powi(64) => Ok(x as u64),
        _ => Err(StoreError::Corrupt(format!(
            "not a global position: {text:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_from_integer_and_double_text() {
        assert_eq!(parse_position("0").unwrap(), 0);
        assert_eq!(
            parse_position("9007199254740993").unwrap(),
            9_007_199_254_740_993
        );
        assert_eq!(parse_position("1000.0").unwrap(), 1000);
        assert!(parse_position("-1").is_err());
        assert!(parse_position("1.5").is_err());
        assert!(parse_position("x").is_err());
    }
}
