//! Parked batches (`subscription_dead_letters`): written by delivery when a subscription's
//! attempts run out in dead-letter mode, listed and redelivered through the REST API.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::db::{Db, to_i64, to_u64};

/// One parked batch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub id: Uuid,
    pub subscription_id: String,
    pub delivery_id: String,
    pub first_global_position: u64,
    pub last_global_position: u64,
    pub event_count: u32,
    pub attempts: u32,
    pub last_error: String,
    /// `PARKED` or `REDELIVERED`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub redelivered_at: Option<DateTime<Utc>>,
    /// The batch as it was sent (`ReadEvent`s).
    #[serde(skip)]
    pub events: Value,
}

const COLUMNS: &str = "id, subscription_id, delivery_id, first_global_position, \
     last_global_position, event_count, attempts, last_error, status, created_at, redelivered_at, events";

fn from_row(row: &tokio_postgres::Row) -> DeadLetter {
    DeadLetter {
        id: row.get(0),
        subscription_id: row.get(1),
        delivery_id: row.get(2),
        first_global_position: to_u64(row.get(3)),
        last_global_position: to_u64(row.get(4)),
        event_count: u32::try_from(row.get::<_, i32>(5)).unwrap_or(0),
        attempts: u32::try_from(row.get::<_, i32>(6)).unwrap_or(0),
        last_error: row.get(7),
        status: row.get(8),
        created_at: row.get(9),
        redelivered_at: row.get(10),
        events: row.get(11),
    }
}

/// What to park.
#[derive(Debug)]
pub struct NewDeadLetter<'a> {
    pub store_id: i32,
    pub subscription_id: &'a str,
    pub delivery_id: &'a str,
    pub first: u64,
    pub last: u64,
    pub events: &'a Value,
    pub event_count: usize,
    pub attempts: u32,
    pub last_error: &'a str,
}

pub async fn insert(
    db: &impl Db,
    letter: &NewDeadLetter<'_>,
) -> Result<Uuid, tokio_postgres::Error> {
    let id = Uuid::now_v7();
    db.execute(
        "INSERT INTO subscription_dead_letters (id, store_id, subscription_id, delivery_id, \
         first_global_position, last_global_position, event_count, events, attempts, last_error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &id,
            &letter.store_id,
            &letter.subscription_id,
            &letter.delivery_id,
            &to_i64(letter.first),
            &to_i64(letter.last),
            &i32::try_from(letter.event_count).unwrap_or(i32::MAX),
            letter.events,
            &i32::try_from(letter.attempts).unwrap_or(i32::MAX),
            &letter.last_error,
        ],
    )
    .await?;
    Ok(id)
}

pub async fn list(
    db: &impl Db,
    store_id: i32,
    subscription_id: &str,
    limit: i64,
) -> Result<Vec<DeadLetter>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscription_dead_letters \
         WHERE store_id = $1 AND subscription_id = $2 ORDER BY created_at, id LIMIT $3"
    );
    Ok(db
        .query(&sql, &[&store_id, &subscription_id, &limit])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

pub async fn get(
    db: &impl Db,
    store_id: i32,
    subscription_id: &str,
    id: Uuid,
) -> Result<Option<DeadLetter>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscription_dead_letters \
         WHERE store_id = $1 AND subscription_id = $2 AND id = $3"
    );
    Ok(db
        .query_opt(&sql, &[&store_id, &subscription_id, &id])
        .await?
        .as_ref()
        .map(from_row))
}

/// Records a redelivery attempt: `REDELIVERED` on success, else one more attempt and its error.
pub async fn record_redelivery(
    db: &impl Db,
    id: Uuid,
    error: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    match error {
        None => {
            db.execute(
                "UPDATE subscription_dead_letters SET status = 'REDELIVERED', \
                 redelivered_at = now(), attempts = attempts + 1 WHERE id = $1",
                &[&id],
            )
            .await?
        }
        Some(error) => {
            db.execute(
                "UPDATE subscription_dead_letters SET attempts = attempts + 1, last_error = $2 \
                 WHERE id = $1",
                &[&id, &error],
            )
            .await?
        }
    };
    Ok(())
}
