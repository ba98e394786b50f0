//! The I/O half of a group commit: one transaction that reads what a batch touches, lets
//! [`plan`](super::plan::plan) decide, takes the store's counter row lock, writes every accepted
//! append with one multi-row `INSERT … SELECT FROM UNNEST(…)` per table, notifies listeners and
//! commits.
//!
//! Statements are prepared once per connection and pipelined: the reads go out together after
//! `BEGIN`, and the writes together with `COMMIT`, so the counter lock is held for about two
//! round trips plus the commit's WAL flush.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use serde_json::Value;
use shared_domain::event::ReadEvent;
use shared_domain::wire::AppendResult;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::plan::{Decision, Plan, Snapshot, plan};
use crate::error::StoreError;
use crate::model::{StoreName, ValidAppend};
use crate::storage::rows::{EVENT_COLUMNS, read_event, to_i64, to_u64};

/// The channel every append transaction notifies, with payload `<store>:<last global position>`.
pub const APPENDED_CHANNEL: &str = "eventstore_appended";

/// When the counter row lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// After the reads, just before the writes: the lock is held briefly, but another replica may
    /// have written between the reads and the lock, which the unique keys then catch.
    Late,
    /// Before the reads: nothing can change under the batch (used to retry after a collision).
    First,
}

/// Why a batch as a whole failed.
#[derive(Debug)]
pub enum BatchError {
    /// The store does not exist (or was deleted meanwhile).
    StoreNotFound,
    /// A unique key refused a row: another replica wrote the same stream position, key or event
    /// id since the reads. Nothing was written; retry with [`LockMode::First`].
    Collision(String),
    /// The database failed; nothing was written, or the commit's outcome is unknown.
    Db(StoreError),
}

impl From<tokio_postgres::Error> for BatchError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => Self::Collision(
                error
                    .as_db_error()
                    .and_then(|e| e.constraint())
                    .unwrap_or("unique key")
                    .to_owned(),
            ),
            _ => Self::Db(StoreError::from_db(&error)),
        }
    }
}

const SQL_STORE: &str = "SELECT id FROM event_stores WHERE name = $1";
const SQL_STORE_LOCKED: &str = "SELECT id FROM event_stores WHERE name = $1 FOR UPDATE";
const SQL_STREAMS: &str = "SELECT s.stream_id, s.version FROM streams s \
     JOIN event_stores e ON e.id = s.store_id WHERE e.name = $1 AND s.stream_id = ANY($2)";
const SQL_KEYS: &str = "SELECT k.stream_id, k.key, k.request_hash, k.result \
     FROM idempotency_keys k JOIN event_stores e ON e.id = k.store_id \
     JOIN UNNEST($2::text[], $3::text[]) AS u(stream_id, key) \
       ON u.stream_id = k.stream_id AND u.key = k.key \
     WHERE e.name = $1";
const SQL_COUNTER: &str = "UPDATE event_stores \
     SET counter = counter + $2, stream_count = stream_count + $3, event_bytes = event_bytes + $4 \
     WHERE id = $1 RETURNING counter, clock_timestamp()";
const SQL_INSERT_EVENTS: &str = "INSERT INTO events (store_id, global_position, stream_id, \
       stream_position, event_id, type, data, metadata, schema_version, transaction_id, created_at) \
     SELECT $1, u.gp, u.sid, u.sp, u.eid, u.t, u.d, u.m, u.sv, u.tx, $11 \
     FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::uuid[], $6::text[], $7::jsonb[], \
       $8::jsonb[], $9::int[], $10::uuid[]) AS u(gp, sid, sp, eid, t, d, m, sv, tx)";
const SQL_UPSERT_STREAMS: &str = "INSERT INTO streams (store_id, stream_id, version) \
     SELECT $1, u.sid, u.v FROM UNNEST($2::text[], $3::bigint[]) AS u(sid, v) \
     ON CONFLICT (store_id, stream_id) DO UPDATE SET version = EXCLUDED.version";
const SQL_INSERT_KEYS: &str = "INSERT INTO idempotency_keys \
       (store_id, stream_id, key, request_hash, result) \
     SELECT $1, u.sid, u.k, u.h, u.r \
     FROM UNNEST($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(sid, k, h, r)";
const SQL_NOTIFY: &str = "SELECT pg_notify($1, $2)";

fn sql_events_by_id() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events v JOIN event_stores e ON e.id = v.store_id \
         WHERE e.name = $1 AND v.event_id = ANY($2)"
    )
}

/// Writes `batch` to `store` in one transaction on `client`; one answer per append, in order.
pub async fn write_batch(
    client: &Object,
    store: &StoreName,
    batch: &[&ValidAppend],
    mode: LockMode,
) -> Result<Vec<Result<AppendResult, StoreError>>, BatchError> {
    let result = write_batch_in_transaction(client, store, batch, mode).await;
    if result.is_err() && !client.is_closed() {
        // Leave no transaction open on a pooled connection. (After a failed COMMIT there is none,
        // and PostgreSQL answers this with a warning only.)
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

async fn write_batch_in_transaction(
    client: &Object,
    store: &StoreName,
    batch: &[&ValidAppend],
    mode: LockMode,
) -> Result<Vec<Result<AppendResult, StoreError>>, BatchError> {
    let (store_id, snapshot) = read_snapshot(client, store, batch, mode).await?;
    let plan = plan(batch, &snapshot);
    if plan.total_events == 0 {
        client.batch_execute("COMMIT").await?;
        return Ok(answers(&plan, Vec::new()));
    }

    // The serialization point: from here to COMMIT no other transaction of this store can assign
    // global positions, so they are handed out in commit order.
    let new_streams = to_i64(plan.new_streams);
    let total = to_i64(plan.total_events);
    let bytes: i64 = accepted(batch, &plan)
        .map(|(append, _)| to_i64(append.payload_bytes))
        .sum();
    let counter = client.prepare_cached(SQL_COUNTER).await?;
    let row = client
        .query_opt(&counter, &[&store_id, &total, &new_streams, &bytes])
        .await?
        .ok_or(BatchError::StoreNotFound)?;
    let (last, created_at): (i64, DateTime<Utc>) = (row.try_get(0)?, row.try_get(1)?);
    let base = to_u64(last) - plan.total_events;

    let written = build_results(batch, &plan, base, created_at);
    write_rows(
        client, store, store_id, batch, &plan, &written, last, created_at,
    )
    .await?;
    Ok(answers(&plan, written))
}

/// `BEGIN`, in [`LockMode::First`] the counter lock, and the reads, pipelined.
async fn read_snapshot(
    client: &Object,
    store: &StoreName,
    batch: &[&ValidAppend],
    mode: LockMode,
) -> Result<(i32, Snapshot), BatchError> {
    let store_sql = match mode {
        LockMode::Late => SQL_STORE,
        LockMode::First => SQL_STORE_LOCKED,
    };
    let store_stmt = client.prepare_cached(store_sql).await?;
    let streams_stmt = client.prepare_cached(SQL_STREAMS).await?;
    let keys_stmt = client.prepare_cached(SQL_KEYS).await?;
    let ids_stmt = client.prepare_cached(&sql_events_by_id()).await?;

    let mut stream_ids: Vec<&str> = batch.iter().map(|a| a.stream_id.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    let (key_streams, keys): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .filter_map(|a| {
            let idem = a.idempotency.as_ref()?;
            Some((a.stream_id.as_str(), idem.key.as_str()))
        })
        .unzip();
    let client_ids: Vec<Uuid> = batch
        .iter()
        .flat_map(|a| a.events.iter())
        .filter(|e| e.client_chosen_id)
        .map(|e| e.event_id)
        .collect();
    let name = store.as_str();

    let store_params: [&(dyn ToSql + Sync); 1] = [&name];
    let stream_params: [&(dyn ToSql + Sync); 2] = [&name, &stream_ids];
    let begin = client.batch_execute("BEGIN");
    let store_row = client.query_opt(&store_stmt, &store_params);
    let streams = client.query(&streams_stmt, &stream_params);
    let key_rows = async {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        client
            .query(&keys_stmt, &[&name, &key_streams, &keys])
            .await
    };
    let id_rows = async {
        if client_ids.is_empty() {
            return Ok(Vec::new());
        }
        client.query(&ids_stmt, &[&name, &client_ids]).await
    };
    let ((), store_row, streams, key_rows, id_rows) =
        tokio::try_join!(begin, store_row, streams, key_rows, id_rows)?;

    let store_id: i32 = store_row.ok_or(BatchError::StoreNotFound)?.try_get(0)?;
    let mut snapshot = Snapshot::default();
    for row in streams {
        snapshot
            .stream_versions
            .insert(row.try_get(0)?, to_u64(row.try_get(1)?));
    }
    for row in key_rows {
        let result: Value = row.try_get(3)?;
        let result: AppendResult = serde_json::from_value(result).map_err(|e| {
            BatchError::Db(StoreError::Internal(format!(
                "stored idempotent result: {e}"
            )))
        })?;
        snapshot.idempotency.insert(
            (row.try_get(0)?, row.try_get(1)?),
            (row.try_get(2)?, result),
        );
    }
    for row in id_rows {
        if let Some(event) = read_event(&row, 0)? {
            snapshot.events_by_id.insert(event.event_id, event);
        }
    }
    Ok((store_id, snapshot))
}

/// The accepted appends with their decisions.
fn accepted<'a>(
    batch: &'a [&'a ValidAppend],
    plan: &'a Plan,
) -> impl Iterator<Item = (&'a ValidAppend, &'a Decision)> {
    batch
        .iter()
        .zip(&plan.decisions)
        .filter(|(_, d)| matches!(d, Decision::Write { .. }))
        .map(|(a, d)| (*a, d))
}

/// The result of every written append (index into the batch, result), in batch order.
fn build_results(
    batch: &[&ValidAppend],
    plan: &Plan,
    base: u64,
    created_at: DateTime<Utc>,
) -> Vec<(usize, AppendResult)> {
    let mut written = Vec::new();
    for (index, (append, decision)) in batch.iter().zip(&plan.decisions).enumerate() {
        let Decision::Write {
            first_stream_position,
            offset,
            created_new_stream,
        } = *decision
        else {
            continue;
        };
        let transaction_id = Uuid::now_v7().to_string();
        let events: Vec<ReadEvent> = append
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| ReadEvent {
                stream_id: append.stream_id.as_str().to_owned(),
                stream_position: first_stream_position + i as u64,
                global_position: base + offset + i as u64 + 1,
                event_id: e.event_id,
                event_type: e.event_type.as_str().to_owned(),
                data: e.data.clone(),
                metadata: e.metadata.clone(),
                schema_version: e.schema_version,
                transaction_id: transaction_id.clone(),
                created_at,
            })
            .collect();
        let version = first_stream_position + events.len() as u64 - 1;
        let global_position = events.last().map_or(0, |e| e.global_position);
        written.push((
            index,
            AppendResult {
                stream_id: append.stream_id.as_str().to_owned(),
                created_new_stream,
                events_appended: events.len() as u64,
                current_stream_version: version,
                next_expected_stream_version: version,
                global_position,
                events,
            },
        ));
    }
    written
}

/// The writes and `COMMIT`, pipelined; returns once the commit is durable.
#[allow(clippy::too_many_arguments)]
async fn write_rows(
    client: &Object,
    store: &StoreName,
    store_id: i32,
    batch: &[&ValidAppend],
    plan: &Plan,
    written: &[(usize, AppendResult)],
    last: i64,
    created_at: DateTime<Utc>,
) -> Result<(), BatchError> {
    let insert_events = client.prepare_cached(SQL_INSERT_EVENTS).await?;
    let upsert_streams = client.prepare_cached(SQL_UPSERT_STREAMS).await?;
    let insert_keys = client.prepare_cached(SQL_INSERT_KEYS).await?;
    let notify = client.prepare_cached(SQL_NOTIFY).await?;

    let events: Vec<&ReadEvent> = written.iter().flat_map(|(_, r)| &r.events).collect();
    let global: Vec<i64> = events.iter().map(|e| to_i64(e.global_position)).collect();
    let streams: Vec<&str> = events.iter().map(|e| e.stream_id.as_str()).collect();
    let positions: Vec<i64> = events.iter().map(|e| to_i64(e.stream_position)).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let data: Vec<&Value> = events.iter().map(|e| &e.data).collect();
    let metadata: Vec<Option<&Value>> = events.iter().map(|e| e.metadata.as_ref()).collect();
    let schema: Vec<i32> = events
        .iter()
        .map(|e| i32::try_from(e.schema_version).unwrap_or(i32::MAX))
        .collect();
    let transactions: Vec<Uuid> = events
        .iter()
        .map(|e| Uuid::parse_str(&e.transaction_id).unwrap_or_default())
        .collect();
    let event_params: [&(dyn ToSql + Sync); 11] = [
        &store_id,
        &global,
        &streams,
        &positions,
        &ids,
        &types,
        &data,
        &metadata,
        &schema,
        &transactions,
        &created_at,
    ];

    let (version_streams, versions): (Vec<&str>, Vec<i64>) = plan
        .final_versions
        .iter()
        .map(|(s, v)| (s.as_str(), to_i64(*v)))
        .unzip();

    let mut key_streams = Vec::new();
    let mut keys = Vec::new();
    let mut hashes = Vec::new();
    let mut results = Vec::new();
    for (index, result) in written {
        if let Some(idem) = &batch[*index].idempotency {
            key_streams.push(result.stream_id.as_str());
            keys.push(idem.key.as_str());
            hashes.push(idem.request_hash.as_str());
            results.push(serde_json::to_value(result).map_err(|e| {
                BatchError::Db(StoreError::Internal(format!("cannot encode result: {e}")))
            })?);
        }
    }
    let payload = format!("{store}:{last}");

    let stream_params: [&(dyn ToSql + Sync); 3] = [&store_id, &version_streams, &versions];
    let notify_params: [&(dyn ToSql + Sync); 2] = [&APPENDED_CHANNEL, &payload];
    let insert = client.execute(&insert_events, &event_params);
    let upsert = client.execute(&upsert_streams, &stream_params);
    let keyed = async {
        if keys.is_empty() {
            return Ok(0);
        }
        client
            .execute(
                &insert_keys,
                &[&store_id, &key_streams, &keys, &hashes, &results],
            )
            .await
    };
    let notified = client.execute(&notify, &notify_params);
    let commit = client.batch_execute("COMMIT");
    tokio::try_join!(insert, upsert, keyed, notified, commit)?;
    Ok(())
}

/// One answer per append: written ones get their result, `SameAs` the result they repeat.
fn answers(
    plan: &Plan,
    written: Vec<(usize, AppendResult)>,
) -> Vec<Result<AppendResult, StoreError>> {
    let written: HashMap<usize, AppendResult> = written.into_iter().collect();
    plan.decisions
        .iter()
        .enumerate()
        .map(|(index, decision)| match decision {
            Decision::Write { .. } => written
                .get(&index)
                .cloned()
                .ok_or_else(|| StoreError::Internal("written append without result".to_owned())),
            Decision::SameAs(first) => written.get(first).cloned().ok_or_else(|| {
                StoreError::Internal("idempotent repeat of an unwritten append".to_owned())
            }),
            Decision::Replay(result) => Ok(result.clone()),
            Decision::Reject(error) => Err(error.clone()),
        })
        .collect()
}
