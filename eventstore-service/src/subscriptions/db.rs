//! The subscription tables: the one column list, the row type, and small named queries.
//! Queries that move delivery state (lease, checkpoint, retry) live in
//! [`crate::delivery::state`]; this module is definitions and operator actions.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::filter::{EventFilter, FilterSpec};
use super::spec::{ExhaustedMode, InitialPosition, SubscriptionDefinition, WebhookTarget};
use crate::delivery::signing::WebhookSecret;

/// Anything that runs queries: a pooled client or a transaction.
pub use tokio_postgres::GenericClient as Db;

/// The columns of a [`SubscriptionRow`], for `subscriptions s JOIN event_stores e`.
pub const COLUMNS: &str = "s.store_id, e.name, s.id, s.event_filter, s.webhook, s.secret, \
     s.batch_size, s.dead_letter_mode, s.initial_position, s.status, s.status_details, \
     s.last_processed_event_global_position, s.retry_attempt, s.next_attempt_at, \
     s.pending_delivery_id, s.pending_last_position, s.last_delivered_at, s.lease_owner, \
     s.lease_until, s.lease_epoch, s.created_at, s.updated_at, e.counter";

/// A subscription's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Suspended,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
            Self::Error => "ERROR",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "SUSPENDED" => Self::Suspended,
            "ERROR" => Self::Error,
            _ => Self::Active,
        }
    }
}

/// A stored subscription with its delivery state.
#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    pub store_id: i32,
    pub store_name: String,
    pub id: String,
    pub filter: EventFilter,
    pub webhook: WebhookTarget,
    pub secret: Option<WebhookSecret>,
    pub batch_size: u32,
    pub on_exhausted: ExhaustedMode,
    pub initial_position: InitialPosition,
    pub status: Status,
    pub status_details: Option<Value>,
    /// `lastProcessedEventGlobalPosition`: everything up to here was acknowledged (or skipped by
    /// the filter, or parked).
    pub checkpoint: u64,
    /// Failed attempts on the pending batch.
    pub retry_attempt: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub pending_delivery_id: Option<String>,
    pub pending_last_position: Option<u64>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub lease_epoch: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The store's last global position when the row was read (for lag).
    pub head: u64,
}

impl SubscriptionRow {
    /// Events written after the checkpoint (all types: the filter is applied when reading).
    pub fn lag(&self) -> u64 {
        self.head.saturating_sub(self.checkpoint)
    }

    /// Reads a row laid out as [`COLUMNS`].
    pub fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        let filter_spec: FilterSpec = serde_json::from_value(row.try_get(3)?).unwrap_or_default();
        let webhook_json: Value = row.try_get(4)?;
        let secret: Option<String> = row.try_get(5)?;
        let initial: String = row.try_get(8)?;
        let status: String = row.try_get(9)?;
        Ok(Self {
            store_id: row.try_get(0)?,
            store_name: row.try_get(1)?,
            id: row.try_get(2)?,
            filter: EventFilter::parse(&filter_spec).unwrap_or_else(|_| EventFilter::all()),
            webhook: WebhookTarget::from_json(&webhook_json)
                .unwrap_or_else(|e| unreachable_stored(&e.to_string())),
            secret: secret.and_then(|s| WebhookSecret::parse(&s).ok()),
            batch_size: u32::try_from(row.try_get::<_, i32>(6)?).unwrap_or(1),
            on_exhausted: ExhaustedMode::parse(row.try_get(7)?).unwrap_or_default(),
            initial_position: if initial == "latest" {
                InitialPosition::Latest
            } else {
                InitialPosition::Earliest
            },
            status: Status::parse(&status),
            status_details: row.try_get(10)?,
            checkpoint: to_u64(row.try_get(11)?),
            retry_attempt: u32::try_from(row.try_get::<_, i32>(12)?).unwrap_or(0),
            next_attempt_at: row.try_get(13)?,
            pending_delivery_id: row.try_get(14)?,
            pending_last_position: row.try_get::<_, Option<i64>>(15)?.map(to_u64),
            last_delivered_at: row.try_get(16)?,
            lease_owner: row.try_get(17)?,
            lease_until: row.try_get(18)?,
            lease_epoch: row.try_get(19)?,
            created_at: row.try_get(20)?,
            updated_at: row.try_get(21)?,
            head: to_u64(row.try_get(22)?),
        })
    }

    /// Whether the stored definition is the one given (the secret compared only when given).
    pub fn same_definition(&self, def: &SubscriptionDefinition) -> bool {
        use super::spec::SecretChoice;
        let secret_same = match &def.secret {
            SecretChoice::None => self.secret.is_none(),
            SecretChoice::Generate => self.secret.is_some(),
            SecretChoice::Given(s) => self.secret.as_ref() == Some(s),
        };
        self.filter == def.filter
            && self.webhook.to_json() == def.webhook.to_json()
            && self.batch_size == def.batch_size
            && self.on_exhausted == def.on_exhausted
            && secret_same
    }
}

/// A stored definition is checked when written; failing to read it back is a bug.
fn unreachable_stored(error: &str) -> WebhookTarget {
    tracing::error!(error, "a stored webhook definition does not check");
    WebhookTarget::from_json(&serde_json::json!({"url": "http://invalid.invalid/"}))
        .unwrap_or_else(|_| unreachable!("the fallback webhook is valid"))
}

pub fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A store as subscriptions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreRef {
    pub id: i32,
    /// Last global position handed out.
    pub head: u64,
}

pub async fn find_store(
    db: &impl Db,
    name: &str,
) -> Result<Option<StoreRef>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT id, counter FROM event_stores WHERE name = $1",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| StoreRef {
        id: r.get(0),
        head: to_u64(r.get(1)),
    }))
}

pub async fn get(
    db: &impl Db,
    store_id: i32,
    id: &str,
) -> Result<Option<SubscriptionRow>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions s JOIN event_stores e ON e.id = s.store_id \
         WHERE s.store_id = $1 AND s.id = $2"
    );
    db.query_opt(&sql, &[&store_id, &id])
        .await?
        .map(|r| SubscriptionRow::from_row(&r))
        .transpose()
}

pub async fn list(
    db: &impl Db,
    store_id: i32,
) -> Result<Vec<SubscriptionRow>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions s JOIN event_stores e ON e.id = s.store_id \
         WHERE s.store_id = $1 ORDER BY s.id"
    );
    db.query(&sql, &[&store_id])
        .await?
        .iter()
        .map(SubscriptionRow::from_row)
        .collect()
}

/// Every subscription's key, for the delivery supervisor.
pub async fn all_keys(db: &impl Db) -> Result<Vec<(i32, String, String)>, tokio_postgres::Error> {
    Ok(db
        .query(
            "SELECT s.store_id, e.name, s.id FROM subscriptions s \
             JOIN event_stores e ON e.id = s.store_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Inserts a new subscription starting after `start_after`; `false` when the id is taken.
pub async fn insert(
    db: &impl Db,
    store_id: i32,
    def: &SubscriptionDefinition,
    secret: Option<&str>,
    start_after: u64,
) -> Result<bool, tokio_postgres::Error> {
    let initial = match def.initial_position {
        InitialPosition::Earliest => "earliest",
        InitialPosition::Latest => "latest",
    };
    let params: [&(dyn ToSql + Sync); 9] = [
        &store_id,
        &def.id,
        &def.filter_json(),
        &def.webhook.to_json(),
        &secret,
        &i32::try_from(def.batch_size).unwrap_or(1),
        &def.on_exhausted.as_str(),
        &initial,
        &to_i64(start_after),
    ];
    let inserted = db
        .execute(
            "INSERT INTO subscriptions (store_id, id, event_filter, webhook, secret, batch_size, \
             dead_letter_mode, initial_position, last_processed_event_global_position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            &params,
        )
        .await?;
    Ok(inserted == 1)
}

/// Replaces a subscription's definition (deploy of a changed file); delivery state is kept.
/// `secret`: `Some(Some(s))` sets it, `Some(None)` removes it, `None` keeps it.
pub async fn update_definition(
    db: &impl Db,
    store_id: i32,
    def: &SubscriptionDefinition,
    secret: Option<Option<&str>>,
) -> Result<(), tokio_postgres::Error> {
    let (set_secret, secret) = match secret {
        Some(s) => (true, s),
        None => (false, None),
    };
    db.execute(
        "UPDATE subscriptions SET event_filter = $3, webhook = $4, batch_size = $5, \
         dead_letter_mode = $6, secret = CASE WHEN $7 THEN $8 ELSE secret END, updated_at = now() \
         WHERE store_id = $1 AND id = $2",
        &[
            &store_id,
            &def.id,
            &def.filter_json(),
            &def.webhook.to_json(),
            &i32::try_from(def.batch_size).unwrap_or(1),
            &def.on_exhausted.as_str(),
            &set_secret,
            &secret,
        ],
    )
    .await?;
    Ok(())
}

pub async fn delete(db: &impl Db, store_id: i32, id: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(db
        .execute(
            "DELETE FROM subscriptions WHERE store_id = $1 AND id = $2",
            &[&store_id, &id],
        )
        .await?
        == 1)
}

/// `pause`: SUSPENDED, delivery state kept.
pub async fn pause(db: &impl Db, store_id: i32, id: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(db
        .execute(
            "UPDATE subscriptions SET status = 'SUSPENDED', updated_at = now() \
             WHERE store_id = $1 AND id = $2",
            &[&store_id, &id],
        )
        .await?
        == 1)
}

/// `resume`: ACTIVE with a fresh retry budget for the pending batch (its details cleared).
pub async fn resume(db: &impl Db, store_id: i32, id: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(db
        .execute(
            "UPDATE subscriptions SET status = 'ACTIVE', status_details = NULL, retry_attempt = 0, \
             next_attempt_at = NULL, updated_at = now() WHERE store_id = $1 AND id = $2",
            &[&store_id, &id],
        )
        .await?
        == 1)
}

/// `reset`: the checkpoint goes to `from - 1`, pending retry cleared; the lease epoch moves on so
/// that a delivery in flight cannot move the checkpoint past the reset.
pub async fn reset(
    db: &impl Db,
    store_id: i32,
    id: &str,
    from_global_position: u64,
) -> Result<bool, tokio_postgres::Error> {
    Ok(db
        .execute(
            "UPDATE subscriptions SET last_processed_event_global_position = $3, \
             retry_attempt = 0, next_attempt_at = NULL, pending_delivery_id = NULL, \
             pending_last_position = NULL, status_details = NULL, \
             lease_epoch = lease_epoch + 1, updated_at = now() \
             WHERE store_id = $1 AND id = $2",
            &[
                &store_id,
                &id,
                &to_i64(from_global_position.saturating_sub(1)),
            ],
        )
        .await?
        == 1)
}

/// Tells every replica's delivery engine that a subscription changed.
pub async fn notify_changed(
    db: &impl Db,
    store: &str,
    id: &str,
) -> Result<(), tokio_postgres::Error> {
    db.execute(
        "SELECT pg_notify($1, $2)",
        &[
            &crate::delivery::wakeups::SUBSCRIPTIONS_CHANNEL,
            &format!("{store}:{id}"),
        ],
    )
    .await?;
    Ok(())
}
