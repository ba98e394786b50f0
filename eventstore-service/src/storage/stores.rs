//! Named event stores: create, list, show with statistics, delete.

use deadpool_postgres::Pool;
use serde_json::Value;
use shared_domain::wire::{EventStoreInfo, EventStoreStatistics};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::rows::to_u64;
use crate::error::StoreError;
use crate::model::StoreName;

/// The columns of [`store_info`]; statistics come from the store row and two primary-key
/// lookups, never from scanning events.
const STORE_COLUMNS: &str = "s.name, s.description, s.settings, s.created_at, s.stream_count, \
     s.counter, s.event_bytes, \
     (SELECT created_at FROM events WHERE store_id = s.id AND global_position = 1), \
     (SELECT created_at FROM events WHERE store_id = s.id AND global_position = s.counter)";

fn store_info(row: &Row) -> Result<EventStoreInfo, tokio_postgres::Error> {
    Ok(EventStoreInfo {
        name: row.try_get(0)?,
        description: row.try_get(1)?,
        settings: row.try_get(2)?,
        created_at: row.try_get(3)?,
        statistics: EventStoreStatistics {
            streams: to_u64(row.try_get(4)?),
            events: to_u64(row.try_get(5)?),
            bytes: to_u64(row.try_get(6)?),
            oldest_event_at: row.try_get(7)?,
            newest_event_at: row.try_get(8)?,
        },
    })
}

fn db(error: tokio_postgres::Error) -> StoreError {
    StoreError::from_db(&error)
}

/// Creates a store; `StoreExists` when the name is taken.
pub async fn create(
    pool: &Pool,
    name: &StoreName,
    description: Option<&str>,
    settings: &Value,
) -> Result<EventStoreInfo, StoreError> {
    let client = pool.get().await.map_err(|e| StoreError::from_pool(&e))?;
    let sql = format!(
        "WITH s AS (INSERT INTO event_stores (name, description, settings) VALUES ($1, $2, $3) \
           ON CONFLICT (name) DO NOTHING RETURNING *) \
         SELECT {STORE_COLUMNS} FROM s"
    );
    let row = client
        .query_opt(&sql, &[&name.as_str(), &description, settings])
        .await
        .map_err(|e| match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => {
                StoreError::StoreExists(name.to_string())
            }
            _ => db(e),
        })?
        .ok_or_else(|| StoreError::StoreExists(name.to_string()))?;
    store_info(&row).map_err(db)
}

/// Every store, by name.
pub async fn list(pool: &Pool) -> Result<Vec<EventStoreInfo>, StoreError> {
    let client = pool.get().await.map_err(|e| StoreError::from_pool(&e))?;
    let sql = format!("SELECT {STORE_COLUMNS} FROM event_stores s ORDER BY s.name");
    let rows = client.query(&sql, &[]).await.map_err(db)?;
    rows.iter().map(|r| store_info(r).map_err(db)).collect()
}

/// One store with its statistics.
pub async fn get(pool: &Pool, name: &StoreName) -> Result<EventStoreInfo, StoreError> {
    let client = pool.get().await.map_err(|e| StoreError::from_pool(&e))?;
    let sql = format!("SELECT {STORE_COLUMNS} FROM event_stores s WHERE s.name = $1");
    let row = client
        .query_opt(&sql, &[&name.as_str()])
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::StoreNotFound(name.to_string()))?;
    store_info(&row).map_err(db)
}

/// Deletes a store and everything in it, in one transaction. Holding the counter row lock first
/// makes a batch in flight finish before, or find the store gone.
pub async fn delete(pool: &Pool, name: &StoreName) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(|e| StoreError::from_pool(&e))?;
    let tx = client.transaction().await.map_err(db)?;
    let id: i32 = tx
        .query_opt(
            "SELECT id FROM event_stores WHERE name = $1 FOR UPDATE",
            &[&name.as_str()],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::StoreNotFound(name.to_string()))?
        .try_get(0)
        .map_err(db)?;
    for table in ["events", "streams", "idempotency_keys"] {
        tx.execute(&format!("DELETE FROM {table} WHERE store_id = $1"), &[&id])
            .await
            .map_err(db)?;
    }
    // Tables of later migrations (subscriptions) reference event_stores ON DELETE CASCADE.
    tx.execute("DELETE FROM event_stores WHERE id = $1", &[&id])
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)
}
