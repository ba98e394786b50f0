//! [`ReadModelStore`]: the query side's only door to Redis. Every read is one round trip (one
//! script, see [`scripts`]) bounded by a time-out, and answers the data together with the
//! generation and checkpoint it came from ([`Read`]).

pub mod scripts;
mod templates;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script, ScriptInvocation};
use shared_domain::orders::OrderStatus;
use shared_domain::read_model::{
    OrderAnalytics, OrderSummary, ReadModelError, ReadModelKeys, summary_fields,
};

use crate::cursor::Cursor;
use templates::{KeyTemplate, Templates};

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

/// One order of a list page: its index entry and its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEntry {
    /// Where the order sits in the index (the next page's cursor, if it is the last).
    pub position: Cursor,
    /// The summary, or `None` if the index names an order without one (never written so by the
    /// projection, which moves both in one step; tolerated rather than failing the page).
    pub summary: Option<OrderSummary>,
}

/// One page of a newest-first list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// At most `limit` orders, newest first.
    pub entries: Vec<PageEntry>,
    /// Whether more orders follow the last entry.
    pub has_more: bool,
}

impl Page {
    /// The cursor of the page after this one, if there is one.
    pub fn next_cursor(&self) -> Option<Cursor> {
        self.has_more
            .then(|| self.entries.last().map(|e| e.position.clone()))
            .flatten()
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
        })
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

    /// One order's summary (`None`: no such order).
    pub async fn order(&self, order_id: &str) -> Result<Read<Option<OrderSummary>>, StoreError> {
        let mut call = self.invocation(&scripts::ORDER);
        self.templates.summary.push_args(&mut call, order_id);
        let (generation, checkpoint, hash): (String, String, Hash) = self.run(&call).await?;
        Ok(Read {
            generation,
            checkpoint: parse_position(&checkpoint)?,
            value: OrderSummary::from_hash(&hash)?,
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

    /// One page of `index`, newest first, starting after `cursor`.
    pub async fn page(
        &self,
        index: ListIndex<'_>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Read<Page>, StoreError> {
        let t = &self.templates;
        let customer_template;
        let index_template = match index {
            ListIndex::All => &t.all_orders,
            ListIndex::Status(status) => t.status(status),
            ListIndex::Customer(customer_id) => {
                customer_template = KeyTemplate::customer_orders(&self.keys, customer_id);
                &customer_template
            }
        };
        let mut call = self.invocation(&scripts::PAGE);
        index_template.push_args(&mut call, "");
        t.summary.push_args(&mut call, "");
        call.arg(limit);
        match cursor {
            Some(c) => call.arg(c.score).arg(&c.order_id),
            None => call.arg("").arg(""),
        };
        call.arg(&summary_fields::ALL[..]);
        type Reply = (String, String, Vec<String>, Vec<u8>);
        let (generation, checkpoint, found, summaries): Reply = self.run(&call).await?;
        let summaries: Vec<Option<Vec<Option<String>>>> = serde_json::from_slice(&summaries)
            .map_err(|e| StoreError::Corrupt(format!("page summaries: {e}")))?;
        let page = page_from_reply(&found, summaries, limit)?;
        Ok(Read {
            generation,
            checkpoint: parse_position(&checkpoint)?,
            value: page,
        })
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

fn page_from_reply(
    found: &[String],
    summaries: Vec<Option<Vec<Option<String>>>>,
    limit: usize,
) -> Result<Page, StoreError> {
    if !found.len().is_multiple_of(2) {
        return Err(StoreError::Corrupt("odd index reply".to_owned()));
    }
    let ids = found.len() / 2;
    let mut entries = Vec::with_capacity(ids.min(limit));
    for (pair, summary) in found.chunks_exact(2).zip(summaries) {
        entries.push(PageEntry {
            position: Cursor {
                score: parse_position(&pair[1])?,
                order_id: pair[0].clone(),
            },
            summary: match summary {
                Some(values) => OrderSummary::from_hash(&named_values(values)?)?,
                None => None,
            },
        });
    }
    if entries.len() != ids.min(limit) {
        return Err(StoreError::Corrupt(
            "summary count differs from index".to_owned(),
        ));
    }
    Ok(Page {
        entries,
        has_more: ids > limit,
    })
}

/// The values of an `HMGET` of [`summary_fields::ALL`] as the map `from_hash` reads (absent
/// fields left out), moving the strings.
fn named_values(values: Vec<Option<String>>) -> Result<Hash, StoreError> {
    if values.len() != summary_fields::ALL.len() {
        return Err(StoreError::Corrupt("summary value count".to_owned()));
    }
    Ok(summary_fields::ALL
        .iter()
        .zip(values)
        .filter_map(|(name, value)| value.map(|v| ((*name).to_owned(), v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_list_names_every_field_the_projection_writes() {
        use chrono::Utc;
        use shared_domain::money::Money;
        use shared_domain::orders::OrderStatus;
        let now = Utc::now();
        let full = OrderSummary {
            order_id: "o-1".to_owned(),
            customer_id: "c-1".to_owned(),
            total_amount: Money::from(3),
            item_count: 1,
            status: OrderStatus::Cancelled,
            tracking_number: Some("T".to_owned()),
            carrier: Some("UPS".to_owned()),
            placed_at: now,
            shipped_at: Some(now),
            delivered_at: Some(now),
            cancelled_at: Some(now),
            revision: 4,
        };
        let mut written: Vec<&str> = full.to_hash().into_iter().map(|(name, _)| name).collect();
        let mut listed = summary_fields::ALL.to_vec();
        written.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, written);
        assert_eq!(
            summary_fields::ALL[0],
            summary_fields::ORDER_ID,
            "the script tests it first"
        );
        let values: Vec<Option<String>> = summary_fields::ALL
            .iter()
            .map(|name| {
                full.to_hash()
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v)
            })
            .collect();
        let back = OrderSummary::from_hash(&named_values(values).unwrap()).unwrap();
        assert_eq!(back, Some(full));
    }

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

    #[test]
    fn an_extra_index_entry_means_a_next_page() {
        let found: Vec<String> = ["o-3", "3", "o-2", "2", "o-1", "1"]
            .map(String::from)
            .to_vec();
        let page = page_from_reply(&found, vec![None, None], 2).unwrap();
        assert_eq!(page.entries.len(), 2);
        assert!(page.has_more);
        assert_eq!(
            page.next_cursor(),
            Some(Cursor {
                score: 2,
                order_id: "o-2".to_owned()
            })
        );
        let last = page_from_reply(&found[..4], vec![None, None], 2).unwrap();
        assert_eq!(last.next_cursor(), None);
    }
}
