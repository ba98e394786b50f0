//! Read-model types and the Redis key layout, shared by the projection service (which writes
//! them) and the query service (which reads them), so the two can never disagree.
//!
//! # For readers (the query service)
//!
//! Everything below is written by `projection-service`; a reader needs only this module.
//!
//! * **Namespace.** Every key of one deployment lives under a namespace written as a Redis
//!   Cluster hash tag, `{<ns>}` (default [`DEFAULT_NAMESPACE`]), so that the keys one projection
//!   script touches share one hash slot (single Redis and Redis Cluster alike).
//! * **Generations.** Read models are kept per *generation* (`g0`, `g1`, …). A rebuild writes a
//!   fresh generation and then flips [`ReadModelKeys::generation_pointer`] to it in one step, so
//!   a query never sees a half-built model. **Read the pointer first** (absent = [`GENERATION_ZERO`]),
//!   then read that generation's keys; see [`generation_or_default`]. An old generation is deleted
//!   a few seconds after a switch ([`OLD_GENERATION_GRACE`]), so a request that read the pointer
//!   just before a switch still finds its keys.
//! * **OrderSummary** is a Redis **hash** at [`GenerationKeys::order_summary`]
//!   (`{orders}:g1:order-summary:order-123`, the walkthrough's `order-summary:{orderId}` as the
//!   suffix). Its field names are the JSON names ([`summary_fields`]); all values are strings.
//!   Turn `HGETALL` into the walkthrough's JSON with [`OrderSummary::from_hash`] (an empty hash =
//!   no such order). A hash rather than a JSON string so the projection's Lua script updates
//!   fields without re-encoding amounts: `totalAmount` stays an exact decimal.
//! * **Lists** come from sorted sets, newest first by score = the global position of the order's
//!   `order.placed`: [`GenerationKeys::all_orders`], [`GenerationKeys::orders_by_status`]
//!   (an order moves between status sets in the same atomic step that changes its status) and
//!   [`GenerationKeys::customer_orders`] (`CustomerOrders`). Page with `ZREVRANGEBYSCORE … LIMIT`
//!   and a score cursor; then `HGETALL` the summaries (one pipeline — same slot).
//! * **OrderAnalytics** is a hash at [`GenerationKeys::analytics`]; read it with
//!   [`OrderAnalytics::from_hash`]. Revenue is exact: kept as integer chunks of 7 decimal digits
//!   ([`revenue_chunks`]) that the projection moves with `HINCRBY`, summed on reading.
//! * **Checkpoint.** [`GenerationKeys::checkpoint`] holds the last global position the projection
//!   applied (absent = 0); it only grows. Each time it grows, the projection PUBLISHes
//!   `"<generation> <position>"` on [`ReadModelKeys::checkpoint_channel`], and it publishes again
//!   after a rebuild switches generations. For read-your-writes, SUBSCRIBE to the channel, then
//!   read the pointer and that generation's checkpoint, and wait until it reaches the position
//!   the client asked for: treat each message as a hint to re-read (messages of a generation
//!   that is not live, e.g. one being rebuilt, can be ignored), and re-read on a timer too, since
//!   pub/sub may drop messages while reconnecting.
//!
//! The other keys ([`ReadModelKeys::rebuild_lock`], [`GenerationKeys::high_water`], …) belong to
//! the projection service.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::orders::OrderStatus;

/// The walkthrough's `OrderSummaryReadModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub order_id: String,
    pub customer_id: String,
    pub total_amount: Money,
    /// Number of order lines (the walkthrough's `items.length`), not the sum of quantities.
    pub item_count: u32,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    pub placed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Stream position of the last event applied: the idempotency guard.
    #[serde(rename = "_revision")]
    pub revision: u64,
}

/// Field names of the `OrderSummary` hash: the JSON names of [`OrderSummary`].
pub mod summary_fields {
    pub const ORDER_ID: &str = "orderId";
    pub const CUSTOMER_ID: &str = "customerId";
    /// Exact decimal text, e.g. `19.99` (never a binary float).
    pub const TOTAL_AMOUNT: &str = "totalAmount";
    pub const ITEM_COUNT: &str = "itemCount";
    /// `pending`, `shipped`, `delivered` or `cancelled`.
    pub const STATUS: &str = "status";
    pub const TRACKING_NUMBER: &str = "trackingNumber";
    pub const CARRIER: &str = "carrier";
    /// Times are RFC 3339 UTC text ([`super::format_time`]).
    pub const PLACED_AT: &str = "placedAt";
    pub const SHIPPED_AT: &str = "shippedAt";
    pub const DELIVERED_AT: &str = "deliveredAt";
    pub const CANCELLED_AT: &str = "cancelledAt";
    pub const REVISION: &str = "_revision";

    /// Every field above, for readers that fetch a summary by field name (`HMGET`, as the query
    /// service's list pages do). Keep it complete when adding a field: query-service has a test
    /// that compares it with what [`super::OrderSummary::to_hash`] writes.
    pub const ALL: [&str; 12] = [
        ORDER_ID,
        CUSTOMER_ID,
        TOTAL_AMOUNT,
        ITEM_COUNT,
        STATUS,
        TRACKING_NUMBER,
        CARRIER,
        PLACED_AT,
        SHIPPED_AT,
        DELIVERED_AT,
        CANCELLED_AT,
        REVISION,
    ];
}

/// A stored read model that does not have the expected shape (written by another version, or
/// edited by hand). A reader should answer 500 and log it: it is not the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored read model field `{field}`: {problem}")]
pub struct ReadModelError {
    pub field: String,
    pub problem: String,
}

impl ReadModelError {
    fn new(field: &str, problem: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Formats a time as the read models store it: RFC 3339, UTC, `Z`, only the sub-second digits
/// needed (`2024-01-01T00:00:00.123Z`).
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn required<'a>(hash: &'a HashMap<String, String>, field: &str) -> Result<&'a str, ReadModelError> {
    hash.get(field)
        .map(String::as_str)
        .ok_or_else(|| ReadModelError::new(field, "missing"))
}

fn parse<T: FromStr>(field: &str, text: &str) -> Result<T, ReadModelError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| ReadModelError::new(field, format!("cannot parse {text:?}: {e}")))
}

fn time(field: &str, text: &str) -> Result<DateTime<Utc>, ReadModelError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ReadModelError::new(field, format!("cannot parse {text:?}: {e}")))
}

fn optional_time(
    hash: &HashMap<String, String>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, ReadModelError> {
    hash.get(field).map(|text| time(field, text)).transpose()
}

impl OrderSummary {
    /// The summary stored as the hash `hash` (the answer of `HGETALL`); `Ok(None)` for an empty
    /// hash, which is what Redis answers for a missing key. Unknown fields are ignored.
    pub fn from_hash(hash: &HashMap<String, String>) -> Result<Option<Self>, ReadModelError> {
        use summary_fields as f;
        if hash.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            order_id: required(hash, f::ORDER_ID)?.to_owned(),
            customer_id: required(hash, f::CUSTOMER_ID)?.to_owned(),
            total_amount: parse(f::TOTAL_AMOUNT, required(hash, f::TOTAL_AMOUNT)?)?,
            item_count: parse(f::ITEM_COUNT, required(hash, f::ITEM_COUNT)?)?,
            status: parse(f::STATUS, required(hash, f::STATUS)?)?,
            tracking_number: hash.get(f::TRACKING_NUMBER).cloned(),
            carrier: hash.get(f::CARRIER).cloned(),
            placed_at: time(f::PLACED_AT, required(hash, f::PLACED_AT)?)?,
            shipped_at: optional_time(hash, f::SHIPPED_AT)?,
            delivered_at: optional_time(hash, f::DELIVERED_AT)?,
            cancelled_at: optional_time(hash, f::CANCELLED_AT)?,
            revision: parse(f::REVISION, required(hash, f::REVISION)?)?,
        }))
    }

    /// The summary as hash fields, exactly as the projection writes them (tests and tools).
    pub fn to_hash(&self) -> Vec<(&'static str, String)> {
        use summary_fields as f;
        let mut fields = vec![
            (f::ORDER_ID, self.order_id.clone()),
            (f::CUSTOMER_ID, self.customer_id.clone()),
            (f::TOTAL_AMOUNT, self.total_amount.to_string()),
            (f::ITEM_COUNT, self.item_count.to_string()),
            (f::STATUS, self.status.as_str().to_owned()),
            (f::PLACED_AT, format_time(self.placed_at)),
            (f::REVISION, self.revision.to_string()),
        ];
        let optional = [
            (f::TRACKING_NUMBER, self.tracking_number.clone()),
            (f::CARRIER, self.carrier.clone()),
            (f::SHIPPED_AT, self.shipped_at.map(format_time)),
            (f::DELIVERED_AT, self.delivered_at.map(format_time)),
            (f::CANCELLED_AT, self.cancelled_at.map(format_time)),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name, v))),
        );
        fields
    }
}

/// Orders and revenue in one status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusTotals {
    pub count: u64,
    pub revenue: Money,
}

/// The `OrderAnalytics` read model: orders and revenue per current status, and totals.
///
/// `totalOrders`/`totalRevenue` count every order ever placed (cancelled ones included); the
/// per-status figures say where those orders are now, so net revenue is
/// `totalRevenue - byStatus.cancelled.revenue`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAnalytics {
    pub total_orders: u64,
    pub total_revenue: Money,
    /// Every status is present, with zeros where there are no orders.
    pub by_status: BTreeMap<String, StatusTotals>,
}

/// Digits per revenue chunk (see [`revenue_chunks`]).
pub const REVENUE_CHUNK_DIGITS: u32 = 7;

/// Exponents a revenue chunk can have: multiples of [`REVENUE_CHUNK_DIGITS`] covering every
/// digit a `Money` (28 significant digits, scale ≤ 28) can hold.
pub const REVENUE_CHUNK_EXPONENTS: [i32; 9] = [-28, -21, -14, -7, 0, 7, 14, 21, 28];

/// `amount` as exact integer chunks `(exponent, value)` with `amount = Σ value × 10^exponent`,
/// each `|value| < 10^7` and `exponent` one of [`REVENUE_CHUNK_EXPONENTS`]; zero chunks left out.
///
/// Why: revenue sums must be exact and updated inside the projection's atomic script.
/// `HINCRBYFLOAT` is binary floating point and decimal text arithmetic in Lua is slow; a sum of
/// chunks moves with native `HINCRBY` per chunk (an `i64` field holds ~9×10^11 additions of
/// chunks) and [`OrderAnalytics::from_hash`] adds them up exactly.
pub fn revenue_chunks(amount: Money) -> Vec<(i32, i64)> {
    let decimal = amount.decimal().normalize();
    let scale = decimal.scale() as i32;
    let step = REVENUE_CHUNK_DIGITS as i32;
    // The lowest chunk's exponent: -scale rounded down to a multiple of the chunk width.
    let mut exponent = -((scale + step - 1) / step * step);
    // |mantissa| < 2^96 and the shift is < 10^7, so this stays far inside i128.
    let mut rest = decimal.mantissa() * 10i128.pow((-scale - exponent) as u32);
    let base = 10i128.pow(REVENUE_CHUNK_DIGITS);
    let mut chunks = Vec::new();
    while rest != 0 {
        // `%` keeps the sign of `rest`, so every chunk has the amount's sign.
        let value = rest % base;
        if value != 0 {
            chunks.push((exponent, value as i64));
        }
        rest /= base;
        exponent += step;
    }
    chunks
}

/// The sum of revenue chunks (inverse of [`revenue_chunks`]), or `None` beyond `Money`'s range.
pub fn sum_revenue_chunks(chunks: impl IntoIterator<Item = (i32, i64)>) -> Option<Money> {
    let mut total = rust_decimal::Decimal::ZERO;
    for (exponent, value) in chunks {
        let part = if exponent < 0 {
            rust_decimal::Decimal::try_new(value, exponent.unsigned_abs()).ok()?
        } else {
            rust_decimal::Decimal::from(value).checked_mul(
                rust_decimal::Decimal::from_i128_with_scale(
                    10i128.checked_pow(exponent as u32)?,
                    0,
                ),
            )?
        };
        total = total.checked_add(part)?;
    }
    Some(Money::new(total))
}

/// Field names of the `OrderAnalytics` hash. Counts are integers; revenues are integer chunks
/// (one field per exponent in use, see [`revenue_chunks`]).
pub mod analytics_fields {
    use crate::orders::OrderStatus;

    /// Orders ever placed.
    pub const ORDERS: &str = "orders";

    /// Orders currently in `status`: `orders:pending`, ….
    pub fn orders_in(status: OrderStatus) -> String {
        format!("orders:{}", status.as_str())
    }

    /// The chunk of exponent `exponent` of the revenue of every order ever placed:
    /// `revenue:e-7`, `revenue:e0`, ….
    pub fn revenue_chunk(exponent: i32) -> String {
        format!("revenue:e{exponent}")
    }

    /// The chunk of exponent `exponent` of the revenue of the orders now in `status`:
    /// `revenue:pending:e-7`, ….
    pub fn revenue_chunk_in(status: OrderStatus, exponent: i32) -> String {
        format!("revenue:{}:e{exponent}", status.as_str())
    }
}

/// Field of the `OrderSummary` hash holding one chunk of the order's `totalAmount`
/// (`_amount:e-7`): projection-internal, so a status change moves the revenue with `HINCRBY`
/// without parsing text. [`OrderSummary::from_hash`] ignores these fields.
pub fn summary_amount_chunk_field(exponent: i32) -> String {
    format!("_amount:e{exponent}")
}

impl OrderAnalytics {
    /// The analytics stored as the hash `hash` (`HGETALL`); an empty hash is all zeros.
    pub fn from_hash(hash: &HashMap<String, String>) -> Result<Self, ReadModelError> {
        use analytics_fields as f;
        let count = |field: &str| -> Result<u64, ReadModelError> {
            hash.get(field).map_or(Ok(0), |text| parse(field, text))
        };
        let revenue = |field: &dyn Fn(i32) -> String| -> Result<Money, ReadModelError> {
            let mut chunks = Vec::new();
            for exponent in REVENUE_CHUNK_EXPONENTS {
                let name = field(exponent);
                if let Some(text) = hash.get(&name) {
                    chunks.push((exponent, parse::<i64>(&name, text)?));
                }
            }
            sum_revenue_chunks(chunks)
                .ok_or_else(|| ReadModelError::new(&field(0), "revenue out of range"))
        };
        let mut by_status = BTreeMap::new();
        for status in OrderStatus::ALL {
            let totals = StatusTotals {
                count: count(&f::orders_in(status))?,
                revenue: revenue(&|e| f::revenue_chunk_in(status, e))?,
            };
            by_status.insert(status.as_str().to_owned(), totals);
        }
        Ok(Self {
            total_orders: count(f::ORDERS)?,
            total_revenue: revenue(&f::revenue_chunk)?,
            by_status,
        })
    }
}

/// Default namespace of the Orders read models.
pub const DEFAULT_NAMESPACE: &str = "orders";

/// The generation read while the pointer key is absent (a deployment that was never rebuilt).
pub const GENERATION_ZERO: &str = "g0";

/// How long a replaced generation is kept after a rebuild switched away from it, so that
/// requests that read the pointer just before the switch finish on consistent data.
pub const OLD_GENERATION_GRACE: Duration = Duration::from_secs(5);

/// The value of the generation pointer (`GET`), or [`GENERATION_ZERO`] when it is absent.
pub fn generation_or_default(pointer: Option<String>) -> String {
    pointer.unwrap_or_else(|| GENERATION_ZERO.to_owned())
}

/// Whether `ns` is usable as a namespace: 1..=64 of `A-Z a-z 0-9 _ - .` (no glob or hash-tag
/// characters, so key patterns need no escaping).
pub fn is_valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 64
        && ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// The key layout of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadModelKeys {
    tag: String,
}

impl ReadModelKeys {
    /// Keys under namespace `ns` (e.g. `orders`, or a per-test namespace).
    pub fn new(ns: &str) -> Self {
        Self {
            tag: format!("{{{ns}}}"),
        }
    }

    /// The hash tag `{<ns>}` every key starts with.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The string key that holds the generation queries read (absent = [`GENERATION_ZERO`]).
    pub fn generation_pointer(&self) -> String {
        format!("{}:generation", self.tag)
    }

    /// Pub/sub channel on which the projection announces checkpoint moves and generation
    /// switches: message `"<generation> <position>"` (see the module documentation).
    pub fn checkpoint_channel(&self) -> String {
        format!("{}:checkpoints", self.tag)
    }

    /// Counter that names new generations (`INCR` → `g<n>`); projection only.
    pub fn generation_sequence(&self) -> String {
        format!("{}:generation-seq", self.tag)
    }

    /// Set of the generations that exist (live, being built, or waiting to be deleted);
    /// projection only.
    pub fn generations(&self) -> String {
        format!("{}:generations", self.tag)
    }

    /// Lease held by the one rebuild that may run at a time; projection only.
    pub fn rebuild_lock(&self) -> String {
        format!("{}:rebuild-lock", self.tag)
    }

    /// Hash with the progress of the last rebuild (state, generation, counts, error); projection
    /// only, shown by its status endpoint.
    pub fn rebuild_status(&self) -> String {
        format!("{}:rebuild", self.tag)
    }

    /// The keys of one generation (`g0`, `g1`, …).
    pub fn generation(&self, generation: &str) -> GenerationKeys {
        GenerationKeys {
            prefix: format!("{}:{generation}:", self.tag),
        }
    }

    /// A pattern matching every key of the namespace (for SCAN in tests and clean-up).
    pub fn pattern(&self) -> String {
        format!("{}:*", self.tag)
    }
}

/// The keys of one generation of the read models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationKeys {
    prefix: String,
}

impl GenerationKeys {
    /// `OrderSummary` hash of one order ([`summary_fields`]).
    pub fn order_summary(&self, order_id: &str) -> String {
        format!("{}order-summary:{order_id}", self.prefix)
    }

    /// Sorted set of every order id, scored by the global position of its `order.placed`
    /// (newest first = highest score).
    pub fn all_orders(&self) -> String {
        format!("{}index:orders", self.prefix)
    }

    /// Sorted set of the order ids currently in `status`, scored like [`Self::all_orders`].
    pub fn orders_by_status(&self, status: OrderStatus) -> String {
        format!("{}index:status:{}", self.prefix, status.as_str())
    }

    /// Sorted set of one customer's order ids (`CustomerOrders`), scored like
    /// [`Self::all_orders`].
    pub fn customer_orders(&self, customer_id: &str) -> String {
        format!("{}index:customer:{customer_id}", self.prefix)
    }

    /// Hash of analytics counters (`OrderAnalytics`, [`analytics_fields`]).
    pub fn analytics(&self) -> String {
        format!("{}analytics", self.prefix)
    }

    /// The projection checkpoint: last global position applied (every event at or below it is
    /// in this generation). Absent = 0.
    pub fn checkpoint(&self) -> String {
        format!("{}checkpoint", self.prefix)
    }

    /// Highest global position any event script applied to this generation, moved in the same
    /// atomic step as the event (the checkpoint follows once the whole batch is in). A rebuild
    /// switches only when the new generation's checkpoint reaches the old one's high water, so
    /// no live delivery is lost. Projection only.
    pub fn high_water(&self) -> String {
        format!("{}high-water", self.prefix)
    }

    /// A pattern matching every key of this generation (SCAN when deleting it).
    pub fn pattern(&self) -> String {
        format!("{}*", self.prefix)
    }

    /// The prefix itself, for scripts that derive further keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag_and_keep_the_walkthrough_suffix() {
        let keys = ReadModelKeys::new("orders");
        let g = keys.generation("g1");
        assert_eq!(
            g.order_summary("order-1"),
            "{orders}:g1:order-summary:order-1"
        );
        assert_eq!(keys.generation_pointer(), "{orders}:generation");
        for key in [
            g.orders_by_status(OrderStatus::Shipped),
            g.customer_orders("c-1"),
            g.high_water(),
            keys.rebuild_lock(),
            keys.checkpoint_channel(),
        ] {
            assert!(key.starts_with("{orders}:"), "{key}");
        }
    }

    #[test]
    fn generation_patterns_do_not_overlap() {
        let keys = ReadModelKeys::new("orders");
        assert_eq!(keys.generation("g1").pattern(), "{orders}:g1:*");
        assert!(
            !keys
                .generation("g10")
                .checkpoint()
                .starts_with(keys.generation("g1").prefix())
        );
    }

    #[test]
    fn summary_json_matches_the_walkthrough() {
        let json = serde_json::json!({
            "orderId": "o-1", "customerId": "c-1", "totalAmount": 20, "itemCount": 1,
            "status": "pending", "placedAt": "2024-01-01T00:00:00Z", "_revision": 1
        });
        let summary: OrderSummary = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&summary).unwrap(), json);
    }

    #[test]
    fn summary_round_trips_through_hash_fields() {
        let summary: OrderSummary = serde_json::from_value(serde_json::json!({
            "orderId": "o-1", "customerId": "c-1", "totalAmount": 19.99, "itemCount": 2,
            "status": "shipped", "trackingNumber": "TRK", "carrier": "UPS",
            "placedAt": "2024-01-01T00:00:00.123Z", "shippedAt": "2024-01-02T00:00:00Z",
            "_revision": 2
        }))
        .unwrap();
        let hash: HashMap<String, String> = summary
            .to_hash()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(hash["totalAmount"], "19.99");
        assert_eq!(hash["placedAt"], "2024-01-01T00:00:00.123Z");
        assert_eq!(OrderSummary::from_hash(&hash).unwrap(), Some(summary));
    }

    #[test]
    fn empty_hash_is_no_summary_and_zero_analytics() {
        let empty = HashMap::new();
        assert_eq!(OrderSummary::from_hash(&empty).unwrap(), None);
        let analytics = OrderAnalytics::from_hash(&empty).unwrap();
        assert_eq!(analytics.total_orders, 0);
        assert_eq!(analytics.by_status.len(), 4);
    }

    #[test]
    fn analytics_hash_is_read_exactly() {
        let hash: HashMap<String, String> = [
            ("orders", "3"),
            ("revenue:e-7", "3000000"),
            ("orders:pending", "2"),
            ("revenue:pending:e-7", "2000000"),
            ("orders:cancelled", "1"),
            ("revenue:cancelled:e-7", "1000000"),
            ("revenue:cancelled:e0", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let analytics = OrderAnalytics::from_hash(&hash).unwrap();
        assert_eq!(
            serde_json::to_value(&analytics).unwrap()["totalRevenue"],
            serde_json::json!(0.3)
        );
        assert_eq!(analytics.by_status["pending"].count, 2);
        assert_eq!(analytics.by_status["shipped"], StatusTotals::default());
    }

    #[test]
    fn revenue_chunks_split_on_seven_digit_boundaries() {
        let money = |s: &str| s.parse::<Money>().unwrap();
        assert_eq!(revenue_chunks(money("20.08")), vec![(-7, 800_000), (0, 20)]);
        assert_eq!(revenue_chunks(money("0")), vec![]);
        assert_eq!(
            revenue_chunks(money("12345678.5")),
            vec![(-7, 5_000_000), (0, 2_345_678), (7, 1)]
        );
        assert_eq!(revenue_chunks(money("-0.1")), vec![(-7, -1_000_000)]);
        assert_eq!(
            revenue_chunks(money("0.0000000000000000000000000001")),
            vec![(-28, 1)]
        );
    }

    proptest::proptest! {
        #[test]
        fn revenue_chunks_sum_back_to_the_amount(
            mantissa in proptest::num::i64::ANY,
            scale in 0u32..=28,
        ) {
            let amount = Money::new(rust_decimal::Decimal::new(mantissa, scale));
            let chunks = revenue_chunks(amount);
            for (exponent, value) in &chunks {
                proptest::prop_assert!(REVENUE_CHUNK_EXPONENTS.contains(exponent));
                proptest::prop_assert!(value.unsigned_abs() < 10u64.pow(REVENUE_CHUNK_DIGITS));
            }
            proptest::prop_assert_eq!(sum_revenue_chunks(chunks), Some(amount));
        }
    }

    #[test]
    fn corrupt_summary_names_the_field() {
        let hash: HashMap<String, String> = [("orderId", "o-1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let error = OrderSummary::from_hash(&hash).unwrap_err();
        assert_eq!(error.field, "customerId");
    }

    #[test]
    fn namespaces_are_checked() {
        assert!(is_valid_namespace("orders"));
        assert!(is_valid_namespace("tlocal-1a2b3c4d"));
        assert!(!is_valid_namespace(""));
        assert!(!is_valid_namespace("a*b"));
        assert!(!is_valid_namespace("{x}"));
    }
}
