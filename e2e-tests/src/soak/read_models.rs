//! The read-model checks: the live namespace must equal a fresh rebuild from the store, key for
//! key (summaries, status and customer indexes, analytics), and both must equal what the events
//! say — each summary the fold of its stream, with `_revision` = the stream's version, and the
//! analytics the counts and sums computed here from the events. Read straight from Redis with the
//! shared key layout (`shared_domain::read_model`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use redis::aio::MultiplexedConnection;
use shared_domain::event::ReadEvent;
use shared_domain::money::Money;
use shared_domain::orders::{OrderEvent, OrderState, OrderStatus, evolve, initial_state};
use shared_domain::read_model::{
    GenerationKeys, OrderAnalytics, OrderSummary, ReadModelKeys, StatusTotals,
    generation_or_default,
};

/// Redis commands per pipeline while reading a snapshot.
const CHUNK: usize = 500;
/// Differences listed at most, per comparison.
const MAX_LISTED: usize = 10;

/// The orders as the events say they are.
#[derive(Debug, Default)]
pub struct Expected {
    /// Each order's folded state and stream version.
    pub orders: BTreeMap<String, (OrderState, u64)>,
    pub customers: BTreeSet<String>,
    pub analytics: OrderAnalytics,
    /// Events that are not order events, or do not decode.
    pub undecodable: Vec<String>,
}

/// Folds `events` (in global order) per stream, and counts.
pub fn expected(events: &[ReadEvent]) -> Expected {
    let mut out = Expected::default();
    for event in events {
        let decoded: Result<OrderEvent, _> = serde_json::from_value(serde_json::json!({
            "type": event.event_type, "data": event.data,
        }));
        let Ok(decoded) = decoded else {
            out.undecodable
                .push(format!("{} @{}", event.event_type, event.global_position));
            continue;
        };
        let entry = out
            .orders
            .entry(event.stream_id.clone())
            .or_insert_with(|| (initial_state(), 0));
        entry.0 = evolve(std::mem::take(&mut entry.0), &decoded);
        entry.1 = event.stream_position;
    }
    let mut by_status: BTreeMap<String, StatusTotals> = OrderStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), StatusTotals::default()))
        .collect();
    let mut analytics = OrderAnalytics::default();
    for (state, _) in out.orders.values() {
        if let Some(customer) = &state.customer_id {
            out.customers.insert(customer.clone());
        }
        analytics.total_orders += 1;
        analytics.total_revenue = analytics.total_revenue + state.total_amount;
        if let Some(totals) = state.status.and_then(|s| by_status.get_mut(s.as_str())) {
            totals.count += 1;
            totals.revenue = totals.revenue + state.total_amount;
        }
    }
    analytics.by_status = by_status;
    out.analytics = analytics;
    out
}

/// One namespace's live generation, read whole.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub generation: String,
    pub checkpoint: u64,
    pub summaries: BTreeMap<String, HashMap<String, String>>,
    pub all_orders: Vec<(String, f64)>,
    pub by_status: BTreeMap<String, Vec<(String, f64)>>,
    pub by_customer: BTreeMap<String, Vec<(String, f64)>>,
    pub analytics: HashMap<String, String>,
}

/// Reads namespace `ns` for the orders and customers of `expected` (plus any order its index
/// holds that the events do not know).
pub async fn snapshot(
    redis_url: &str,
    ns: &str,
    expected: &Expected,
) -> Result<Snapshot, redis::RedisError> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys = ReadModelKeys::new(ns);
    let pointer: Option<String> = redis::cmd("GET")
        .arg(keys.generation_pointer())
        .query_async(&mut conn)
        .await?;
    let generation = generation_or_default(pointer);
    let g = keys.generation(&generation);
    let checkpoint: Option<u64> = redis::cmd("GET")
        .arg(g.checkpoint())
        .query_async(&mut conn)
        .await?;
    let all_orders = zset(&mut conn, &g.all_orders()).await?;
    let mut by_status = BTreeMap::new();
    for status in OrderStatus::ALL {
        let members = zset(&mut conn, &g.orders_by_status(status)).await?;
        by_status.insert(status.as_str().to_owned(), members);
    }
    let mut by_customer = BTreeMap::new();
    for customer in &expected.customers {
        let members = zset(&mut conn, &g.customer_orders(customer)).await?;
        by_customer.insert(customer.clone(), members);
    }
    let mut ids: BTreeSet<String> = expected.orders.keys().cloned().collect();
    ids.extend(all_orders.iter().map(|(id, _)| id.clone()));
    let summaries = summaries(&mut conn, &g, ids).await?;
    let analytics: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(g.analytics())
        .query_async(&mut conn)
        .await?;
    Ok(Snapshot {
        generation,
        checkpoint: checkpoint.unwrap_or(0),
        summaries,
        all_orders,
        by_status,
        by_customer,
        analytics,
    })
}

async fn zset(
    conn: &mut MultiplexedConnection,
    key: &str,
) -> Result<Vec<(String, f64)>, redis::RedisError> {
    redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(conn)
        .await
}

async fn summaries(
    conn: &mut MultiplexedConnection,
    g: &GenerationKeys,
    ids: BTreeSet<String>,
) -> Result<BTreeMap<String, HashMap<String, String>>, redis::RedisError> {
    let ids: Vec<String> = ids.into_iter().collect();
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut pipe = redis::pipe();
        for id in chunk {
            pipe.cmd("HGETALL").arg(g.order_summary(id));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(conn).await?;
        out.extend(chunk.iter().cloned().zip(hashes));
    }
    Ok(out)
}

/// Where the live read models differ from the rebuilt ones (the generations' names aside).
pub fn compare(live: &Snapshot, rebuilt: &Snapshot) -> Vec<String> {
    let mut problems = Vec::new();
    let mut differ = |what: String| {
        if problems.len() < MAX_LISTED {
            problems.push(what);
        }
    };
    if live.checkpoint != rebuilt.checkpoint {
        differ(format!(
            "checkpoint: live {} vs rebuilt {}",
            live.checkpoint, rebuilt.checkpoint
        ));
    }
    for (id, hash) in &live.summaries {
        if rebuilt.summaries.get(id) != Some(hash) {
            differ(format!(
                "order-summary:{id}: live {hash:?} vs rebuilt {:?}",
                rebuilt.summaries.get(id)
            ));
        }
    }
    if live.all_orders != rebuilt.all_orders {
        differ(format!(
            "all-orders index: live has {}, rebuilt {}",
            live.all_orders.len(),
            rebuilt.all_orders.len()
        ));
    }
    for (status, members) in &live.by_status {
        if rebuilt.by_status.get(status) != Some(members) {
            differ(format!("orders-by-status:{status} differ"));
        }
    }
    for (customer, members) in &live.by_customer {
        if rebuilt.by_customer.get(customer) != Some(members) {
            differ(format!("customer-orders:{customer} differ"));
        }
    }
    if live.analytics != rebuilt.analytics {
        differ(format!(
            "analytics: live {:?} vs rebuilt {:?}",
            live.analytics, rebuilt.analytics
        ));
    }
    problems
}

/// Where a snapshot differs from what the events say.
pub fn check_against_events(snapshot: &Snapshot, expected: &Expected) -> Vec<String> {
    let mut problems = Vec::new();
    let mut wrong = |what: String| {
        if problems.len() < MAX_LISTED {
            problems.push(what);
        }
    };
    for (id, (state, version)) in &expected.orders {
        let want = summary_of(state, *version);
        let have = snapshot
            .summaries
            .get(id)
            .map(OrderSummary::from_hash)
            .transpose()
            .map(Option::flatten);
        match (want, have) {
            (Some(want), Ok(Some(have))) if want == have => {}
            (want, have) => wrong(format!(
                "order-summary:{id}: events say {want:?}, Redis holds {have:?}"
            )),
        }
    }
    let extra: Vec<&String> = snapshot
        .summaries
        .iter()
        .filter(|(id, hash)| !hash.is_empty() && !expected.orders.contains_key(*id))
        .map(|(id, _)| id)
        .collect();
    if !extra.is_empty() {
        wrong(format!(
            "{} summaries of orders the store does not have, e.g. {:?}",
            extra.len(),
            extra[0]
        ));
    }
    if snapshot.all_orders.len() != expected.orders.len() {
        wrong(format!(
            "all-orders index holds {}, the store has {} orders",
            snapshot.all_orders.len(),
            expected.orders.len()
        ));
    }
    for status in OrderStatus::ALL {
        let want = expected
            .orders
            .values()
            .filter(|(state, _)| state.status == Some(status))
            .count();
        let have = snapshot.by_status.get(status.as_str()).map_or(0, Vec::len);
        if want != have {
            wrong(format!(
                "orders-by-status:{status}: {have} indexed, events say {want}"
            ));
        }
    }
    match OrderAnalytics::from_hash(&snapshot.analytics) {
        Ok(have) if have == expected.analytics => {}
        have => wrong(format!(
            "analytics: events say {:?}, Redis holds {have:?}",
            expected.analytics
        )),
    }
    problems
}

/// The summary the walkthrough's projection makes of a stream folded to `state`.
fn summary_of(state: &OrderState, version: u64) -> Option<OrderSummary> {
    Some(OrderSummary {
        order_id: state.order_id.clone()?,
        customer_id: state.customer_id.clone()?,
        total_amount: state.total_amount,
        item_count: u32::try_from(state.items.len()).ok()?,
        status: state.status?,
        tracking_number: state.tracking_number.clone(),
        carrier: state.carrier.clone(),
        placed_at: state.placed_at?,
        shipped_at: state.shipped_at,
        delivered_at: state.delivered_at,
        cancelled_at: state.cancelled_at,
        revision: version,
    })
}

/// The total revenue the events say, for the summary line.
pub fn revenue(expected: &Expected) -> Money {
    expected.analytics.total_revenue
}
