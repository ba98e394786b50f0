//! The I/O half of a group commit: one transaction that reads what a batch touches, lets
//! [`plan`](super::plan::plan) decide, takes the store's counter row lock, writes every accepted
//! append with one multi-row `INSERT … SELECT FROM UNNEST(…)` per table, notifies listeners and
//! commits.
//!
//! The reading path ([`write_batch`]) is four statements in two round trips, prepared and
//! pipelined: `BEGIN` and the read (stream versions, plus idempotency keys and client event ids
//! when the batch has any); then ONE statement whose data-modifying CTEs take the counter lock
//! (`UPDATE … RETURNING`, which also notifies), insert the events, upsert the streams and record
//! the idempotency keys, with global positions computed from the counter it just set — and
//! `COMMIT`. The lock is held for no client round trip: only while the server runs that statement
//! and flushes the commit.
//!
//! The predicted path ([`write_predicted`]) skips the read when the writer's
//! [`KnownVersions`](super::known::KnownVersions) let every append of the batch be planned: the
//! write statement alone, in one round trip, as its own transaction, guarded by the predicted
//! stream versions. A guard that does not hold, or a unique key the statement violates, means
//! the prediction was stale: nothing is written and the batch takes the reading path.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use serde_json::Value;
use shared_domain::event::{ExpectedStreamVersion, ReadEvent};
use shared_domain::wire::AppendResult;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::plan::{Decision, Plan, Snapshot, plan, result_of};
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

/// The store's id and the versions of the batch's streams that exist (one row with NULL stream
/// columns when none does; no row when the store does not exist).
const SQL_STREAMS: &str = "SELECT e.id, s.stream_id, s.version FROM event_stores e \
     LEFT JOIN streams s ON s.store_id = e.id AND s.stream_id = ANY($2) WHERE e.name = $1";
/// [`SQL_STREAMS`] taking the counter lock first ([`LockMode::First`]).
const SQL_STREAMS_LOCKED: &str = "SELECT e.id, s.stream_id, s.version FROM event_stores e \
     LEFT JOIN streams s ON s.store_id = e.id AND s.stream_id = ANY($2) WHERE e.name = $1 \
     FOR UPDATE OF e";
/// All the writes of a batch, in one statement. `c` takes the counter lock and notifies (at
/// commit); global positions are `counter after the UPDATE − batch total + offset` (offsets count
/// from 1 across the batch). If the store vanished since the read, `c` is empty and nothing is
/// written.
const SQL_WRITE: &str = "WITH c AS ( \
       UPDATE event_stores SET counter = counter + $2, stream_count = stream_count + $3, \
         event_bytes = event_bytes + $4 \
       WHERE id = $1 /*guard*/ \
       RETURNING counter, now() AS at, pg_notify($5, $6 || ':' || counter) AS notified), \
     ev AS ( \
       INSERT INTO events (store_id, global_position, stream_id, stream_position, event_id, \
         type, data, metadata, schema_version, transaction_id, created_at) \
       SELECT $1, c.counter - $2 + u.off, u.sid, u.sp, u.eid, u.t, u.d, u.m, u.sv, u.tx, c.at \
       FROM c, UNNEST($7::bigint[], $8::text[], $9::bigint[], $10::uuid[], $11::text[], \
         $12::jsonb[], $13::jsonb[], $14::int[], $15::uuid[]) \
         AS u(off, sid, sp, eid, t, d, m, sv, tx)), \
     st AS ( \
       INSERT INTO streams (store_id, stream_id, version) \
       SELECT $1, u.sid, u.v FROM c, UNNEST($16::text[], $17::bigint[]) AS u(sid, v) \
       ON CONFLICT (store_id, stream_id) DO UPDATE SET version = EXCLUDED.version), \
     k AS ( \
       INSERT INTO idempotency_keys \
         (store_id, stream_id, key, request_hash, first_global_position, event_count) \
       SELECT $1, u.sid, u.k, u.h, c.counter - $2 + u.off, u.n \
       FROM c, UNNEST($18::text[], $19::text[], $20::text[], $21::bigint[], $22::int[]) \
         AS u(sid, k, h, off, n)) \
     SELECT counter, at FROM c";

/// [`SQL_WRITE`] for a predicted batch: the counter is updated — and so anything written — only
/// if every stream the batch writes is at the version the prediction assumed ($23, $24; 0 for a
/// stream that does not exist). Under normal operation a stale prediction is stale low and the
/// unique keys would refuse it too; this also refuses one that is stale HIGH (the database lost
/// commits the writer saw: a failover to an asynchronous standby, a restore), which no unique
/// key catches, and it refuses without an error in the server's log.
static SQL_WRITE_PREDICTED: LazyLock<String> = LazyLock::new(|| {
    SQL_WRITE.replace(
        "/*guard*/",
        // One primary-key lookup per stream (a join could be planned as a scan of `streams`).
        "AND NOT EXISTS (SELECT 1 FROM UNNEST($23::text[], $24::bigint[]) AS p(sid, v) \
           WHERE COALESCE((SELECT s.version FROM streams s \
             WHERE s.store_id = $1 AND s.stream_id = p.sid), 0) <> p.v)",
    )
});

/// Stored results of the batch's idempotency keys: one row per event of each original append.
fn sql_keys() -> String {
    format!(
        "SELECT k.stream_id, k.key, k.request_hash, {EVENT_COLUMNS} \
         FROM idempotency_keys k JOIN event_stores e ON e.id = k.store_id \
         JOIN UNNEST($2::text[], $3::text[]) AS u(stream_id, key) \
           ON u.stream_id = k.stream_id AND u.key = k.key \
         JOIN events v ON v.store_id = k.store_id AND v.global_position \
           BETWEEN k.first_global_position AND k.first_global_position + k.event_count - 1 \
         WHERE e.name = $1 ORDER BY k.stream_id, k.key, v.global_position"
    )
}

fn sql_events_by_id() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events v JOIN event_stores e ON e.id = v.store_id \
         WHERE e.name = $1 AND v.event_id = ANY($2)"
    )
}

/// A batch's outcome: one answer per append, in order, and what it showed of the store.
#[derive(Debug)]
pub struct Written {
    pub answers: Vec<Result<AppendResult, StoreError>>,
    pub store_id: i32,
    /// Committed versions of the batch's streams: read, or written by the batch.
    pub versions: Vec<(String, u64)>,
}

/// Writes `batch` to `store` in one transaction on `client`, reading what it touches first.
pub async fn write_batch(
    client: &Object,
    store: &StoreName,
    batch: &[&ValidAppend],
    mode: LockMode,
) -> Result<Written, BatchError> {
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
) -> Result<Written, BatchError> {
    let (store_id, snapshot) = read_snapshot(client, store, batch, mode).await?;
    let plan = plan(batch, &snapshot);
    let mut versions: Vec<(String, u64)> = snapshot.stream_versions.into_iter().collect();
    if plan.total_events == 0 {
        client.batch_execute("COMMIT").await?;
        return Ok(Written {
            answers: answers(&plan, Vec::new()),
            store_id,
            versions,
        });
    }
    let (last, created_at) = write_rows(client, store, store_id, batch, &plan, None)
        .await?
        .ok_or(BatchError::StoreNotFound)?;
    let base = to_u64(last) - plan.total_events;
    let answers = answers(&plan, build_results(batch, &plan, base, created_at));
    versions.extend(plan.final_versions);
    Ok(Written {
        answers,
        store_id,
        versions,
    })
}

/// Writes `batch` to store `store_id` as planned against `known` (what the writer knows of its
/// streams) in one round trip — the write statement, guarded by the predicted versions, as its
/// own transaction — when that plan writes every append. `Ok(None)`: the prediction cannot
/// be made (the plan refuses or repeats something, which only the reading path may answer, or
/// a stream's first append in the batch is neither to a known stream nor `no_stream`).
/// [`BatchError::Collision`]: the prediction was stale (or the store is gone) and nothing was
/// written.
pub async fn write_predicted(
    client: &Object,
    store: &StoreName,
    store_id: i32,
    batch: &[&ValidAppend],
    known: &Snapshot,
) -> Result<Option<Written>, BatchError> {
    if !predictable_streams(batch, known) {
        return Ok(None);
    }
    let plan = plan(batch, known);
    let all_written = plan.total_events > 0
        && plan
            .decisions
            .iter()
            .all(|d| matches!(d, Decision::Write { .. } | Decision::SameAs(_)));
    if !all_written {
        return Ok(None);
    }
    let guard = Guard {
        streams: plan
            .final_versions
            .iter()
            .map(|(s, _)| s.as_str())
            .collect(),
        versions: plan
            .final_versions
            .iter()
            .map(|(s, _)| to_i64(known.stream_versions.get(s).copied().unwrap_or(0)))
            .collect(),
    };
    let (last, created_at) = write_rows(client, store, store_id, batch, &plan, Some(&guard))
        .await?
        // The guard refused (or the store is gone): nothing was written.
        .ok_or_else(|| BatchError::Collision("predicted stream versions".to_owned()))?;
    let base = to_u64(last) - plan.total_events;
    let answers = answers(&plan, build_results(batch, &plan, base, created_at));
    Ok(Some(Written {
        answers,
        store_id,
        versions: plan.final_versions,
    }))
}

/// Whether every stream's first append in `batch` is to a stream the writer knows, or expects
/// no stream (then a stream the writer does not know is predicted new). An `any` or
/// `stream_exists` append to a stream the writer has not seen reads first: it is likely to exist.
fn predictable_streams(batch: &[&ValidAppend], known: &Snapshot) -> bool {
    let mut seen: HashSet<&str> = HashSet::with_capacity(batch.len());
    batch.iter().all(|append| {
        let stream = append.stream_id.as_str();
        if !seen.insert(stream) {
            return true;
        }
        known.stream_versions.contains_key(stream)
            || matches!(
                append.expected,
                ExpectedStreamVersion::NoStream | ExpectedStreamVersion::Exact(0)
            )
    })
}

/// The versions a predicted batch assumes its streams are at.
struct Guard<'a> {
    streams: Vec<&'a str>,
    versions: Vec<i64>,
}

/// `BEGIN`, in [`LockMode::First`] the counter lock, and the reads, pipelined.
async fn read_snapshot(
    client: &Object,
    store: &StoreName,
    batch: &[&ValidAppend],
    mode: LockMode,
) -> Result<(i32, Snapshot), BatchError> {
    let streams_sql = match mode {
        LockMode::Late => SQL_STREAMS,
        LockMode::First => SQL_STREAMS_LOCKED,
    };
    let streams_stmt = client.prepare_cached(streams_sql).await?;
    let keys_stmt = client.prepare_cached(&sql_keys()).await?;
    let ids_stmt = client.prepare_cached(&sql_events_by_id()).await?;

    let mut stream_ids: Vec<&str> = batch.iter().map(|a| a.stream_id.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    // Each (stream, key) once: the lookup joins on them, and retries often share a batch.
    let mut key_pairs: Vec<(&str, &str)> = batch
        .iter()
        .filter_map(|a| {
            let idem = a.idempotency.as_ref()?;
            Some((a.stream_id.as_str(), idem.key.as_str()))
        })
        .collect();
    key_pairs.sort_unstable();
    key_pairs.dedup();
    let (key_streams, keys): (Vec<&str>, Vec<&str>) = key_pairs.into_iter().unzip();
    let client_ids: Vec<Uuid> = batch
        .iter()
        .flat_map(|a| a.events.iter())
        .filter(|e| e.client_chosen_id)
        .map(|e| e.event_id)
        .collect();
    let name = store.as_str();

    let stream_params: [&(dyn ToSql + Sync); 2] = [&name, &stream_ids];
    let begin = client.batch_execute("BEGIN");
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
    // join!, not try_join!: every reply is awaited, and the first error in statement order is
    // the cause (the later ones only say the transaction is aborted).
    let (begun, streams, key_rows, id_rows) = tokio::join!(begin, streams, key_rows, id_rows);
    begun?;
    let (streams, key_rows, id_rows) = (streams?, key_rows?, id_rows?);

    let store_id: i32 = streams
        .first()
        .ok_or(BatchError::StoreNotFound)?
        .try_get(0)?;
    let mut snapshot = Snapshot::default();
    for row in streams {
        if let Some(stream) = row.try_get::<_, Option<String>>(1)? {
            let version: i64 = row.try_get(2)?;
            snapshot.stream_versions.insert(stream, to_u64(version));
        }
    }
    let mut originals: HashMap<(String, String), (String, Vec<ReadEvent>)> = HashMap::new();
    for row in key_rows {
        let key: (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let hash: String = row.try_get(2)?;
        if let Some(event) = read_event(&row, 3)? {
            originals
                .entry(key)
                .or_insert_with(|| (hash, Vec::new()))
                .1
                .push(event);
        }
    }
    for (key, (hash, events)) in originals {
        let events: Vec<&ReadEvent> = events.iter().collect();
        snapshot.idempotency.insert(key, (hash, result_of(&events)));
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

/// The result of every written append (index into the batch, result), in batch order, given
/// the counter before the batch (`base`) and the transaction's time.
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
            transaction_id,
        } = decision
        else {
            continue;
        };
        let transaction_id = transaction_id.to_string();
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
                created_new_stream: *created_new_stream,
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

/// The counter lock and the writes; returns once the commit is durable, with the counter after
/// the batch and the transaction's time. Without `guard` (the reading path) inside the open
/// transaction, with `COMMIT` pipelined after the statement; with `guard` (a prediction) as one
/// statement in its own transaction (a `BEGIN` and `COMMIT` around it measurably slowed every
/// batch). `None`: nothing was written — the store is gone (deleted since the read), or
/// `guard`'s versions did not hold.
async fn write_rows(
    client: &Object,
    store: &StoreName,
    store_id: i32,
    batch: &[&ValidAppend],
    plan: &Plan,
    guard: Option<&Guard<'_>>,
) -> Result<Option<(i64, DateTime<Utc>)>, BatchError> {
    let write = match guard {
        None => client.prepare_cached(SQL_WRITE).await?,
        Some(_) => client.prepare_cached(&SQL_WRITE_PREDICTED).await?,
    };
    let total = to_i64(plan.total_events);
    let new_streams = to_i64(plan.new_streams);
    let bytes: i64 = accepted(batch, plan)
        .map(|(append, _)| to_i64(append.payload_bytes))
        .sum();
    let name = store.as_str();
    let rows = EventRows::of(batch, plan);
    let (version_streams, versions): (Vec<&str>, Vec<i64>) = plan
        .final_versions
        .iter()
        .map(|(s, v)| (s.as_str(), to_i64(*v)))
        .unzip();
    let keys = KeyRows::of(batch, plan);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![
        &store_id,
        &total,
        &new_streams,
        &bytes,
        &APPENDED_CHANNEL,
        &name,
        &rows.offsets,
        &rows.streams,
        &rows.positions,
        &rows.ids,
        &rows.types,
        &rows.data,
        &rows.metadata,
        &rows.schema_versions,
        &rows.transactions,
        &version_streams,
        &versions,
        &keys.streams,
        &keys.keys,
        &keys.hashes,
        &keys.offsets,
        &keys.counts,
    ];
    if let Some(guard) = guard {
        params.push(&guard.streams);
        params.push(&guard.versions);
    }

    // The serialization point is the UPDATE in SQL_WRITE: from it to COMMIT no other transaction
    // of this store can assign global positions, so they are handed out in commit order.
    let written = client.query_opt(&write, &params);
    let row = if guard.is_some() {
        written.await?
    } else {
        let commit = client.batch_execute("COMMIT");
        // join!, not try_join!: the write's own error is the cause; after it, PostgreSQL
        // answers the pipelined COMMIT by rolling back.
        let (row, committed) = tokio::join!(written, commit);
        let row = row?;
        committed?;
        row
    };
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}

/// The `events` columns of a batch's accepted appends, as UNNEST arrays.
struct EventRows<'a> {
    /// 1-based offset of each event within the batch.
    offsets: Vec<i64>,
    streams: Vec<&'a str>,
    positions: Vec<i64>,
    ids: Vec<Uuid>,
    types: Vec<&'a str>,
    data: Vec<&'a Value>,
    metadata: Vec<Option<&'a Value>>,
    schema_versions: Vec<i32>,
    transactions: Vec<Uuid>,
}

impl<'a> EventRows<'a> {
    fn of(batch: &[&'a ValidAppend], plan: &Plan) -> Self {
        let n = usize::try_from(plan.total_events).unwrap_or(0);
        let mut rows = Self {
            offsets: Vec::with_capacity(n),
            streams: Vec::with_capacity(n),
            positions: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            data: Vec::with_capacity(n),
            metadata: Vec::with_capacity(n),
            schema_versions: Vec::with_capacity(n),
            transactions: Vec::with_capacity(n),
        };
        for (append, decision) in batch.iter().zip(&plan.decisions) {
            let Decision::Write {
                first_stream_position,
                offset,
                transaction_id,
                ..
            } = decision
            else {
                continue;
            };
            for (i, event) in append.events.iter().enumerate() {
                rows.offsets.push(to_i64(offset + i as u64 + 1));
                rows.streams.push(append.stream_id.as_str());
                rows.positions
                    .push(to_i64(first_stream_position + i as u64));
                rows.ids.push(event.event_id);
                rows.types.push(event.event_type.as_str());
                rows.data.push(&event.data);
                rows.metadata.push(event.metadata.as_ref());
                rows.schema_versions
                    .push(i32::try_from(event.schema_version).unwrap_or(i32::MAX));
                rows.transactions.push(*transaction_id);
            }
        }
        rows
    }
}

/// The `idempotency_keys` rows of a batch's accepted appends that carry a key.
struct KeyRows<'a> {
    streams: Vec<&'a str>,
    keys: Vec<&'a str>,
    hashes: Vec<&'a str>,
    /// 1-based batch offset of the append's first event.
    offsets: Vec<i64>,
    counts: Vec<i32>,
}

impl<'a> KeyRows<'a> {
    fn of(batch: &[&'a ValidAppend], plan: &Plan) -> Self {
        let mut rows = Self {
            streams: Vec::new(),
            keys: Vec::new(),
            hashes: Vec::new(),
            offsets: Vec::new(),
            counts: Vec::new(),
        };
        for (append, decision) in batch.iter().zip(&plan.decisions) {
            if let (Decision::Write { offset, .. }, Some(idem)) = (decision, &append.idempotency) {
                rows.streams.push(append.stream_id.as_str());
                rows.keys.push(idem.key.as_str());
                rows.hashes.push(idem.request_hash.as_str());
                rows.offsets.push(to_i64(offset + 1));
                rows.counts
                    .push(i32::try_from(append.events.len()).unwrap_or(i32::MAX));
            }
        }
        rows
    }
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
