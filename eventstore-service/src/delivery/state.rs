//! Delivery state in PostgreSQL, guarded by the lease: only the holder of the current epoch can
//! move a subscription's checkpoint or record its retries.
//!
//! * [`acquire`]: take the lease when free, expired, or already ours (a takeover moves the
//!   epoch on, so the previous holder's writes fail from then on);
//! * [`renew`]: extend it, same epoch — fails once someone took it over or an operator reset
//!   the subscription;
//! * [`acknowledge`], [`record_failure`], [`stop_with_error`], [`park`]: each `WHERE lease_owner
//!   = $me AND lease_epoch = $epoch`, and the checkpoint only ever moves forward.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::subscriptions::db::{COLUMNS, Db, SubscriptionRow, to_i64};
use crate::subscriptions::dead_letters::{self, NewDeadLetter};

/// Who holds a lease, on which subscription, in which epoch.
#[derive(Debug, Clone)]
pub struct Lease {
    pub store_id: i32,
    pub subscription_id: String,
    pub owner: String,
    pub epoch: i64,
    pub ttl: Duration,
}

fn ttl_ms(ttl: Duration) -> f64 {
    ttl.as_secs_f64() * 1000.0
}

/// Takes the lease if it is free, expired or ours; answers the row as it now is.
pub async fn acquire(
    db: &impl Db,
    store_id: i32,
    subscription_id: &str,
    owner: &str,
    ttl: Duration,
) -> Result<Option<(Lease, SubscriptionRow)>, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE subscriptions s SET lease_owner = $3, \
         lease_until = now() + $4 * interval '1 millisecond', lease_epoch = s.lease_epoch + 1 \
         FROM event_stores e WHERE e.id = s.store_id AND s.store_id = $1 AND s.id = $2 \
         AND (s.lease_owner IS NULL OR s.lease_owner = $3 OR s.lease_until < now()) \
         RETURNING {COLUMNS}"
    );
    let row = db
        .query_opt(&sql, &[&store_id, &subscription_id, &owner, &ttl_ms(ttl)])
        .await?;
    row.map(|r| {
        let row = SubscriptionRow::from_row(&r)?;
        Ok((
            Lease {
                store_id,
                subscription_id: subscription_id.to_owned(),
                owner: owner.to_owned(),
                epoch: row.lease_epoch,
                ttl,
            },
            row,
        ))
    })
    .transpose()
}

/// Extends the lease and answers the row; `None` when the lease is lost (or the row gone).
pub async fn renew(
    db: &impl Db,
    lease: &Lease,
) -> Result<Option<SubscriptionRow>, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE subscriptions s SET lease_until = now() + $5 * interval '1 millisecond' \
         FROM event_stores e WHERE e.id = s.store_id AND s.store_id = $1 AND s.id = $2 \
         AND s.lease_owner = $3 AND s.lease_epoch = $4 RETURNING {COLUMNS}"
    );
    db.query_opt(
        &sql,
        &[
            &lease.store_id,
            &lease.subscription_id,
            &lease.owner,
            &lease.epoch,
            &ttl_ms(lease.ttl),
        ],
    )
    .await?
    .map(|r| SubscriptionRow::from_row(&r))
    .transpose()
}

/// Gives the lease up (on shutdown), so another replica takes over at once.
pub async fn release(db: &impl Db, lease: &Lease) -> Result<(), tokio_postgres::Error> {
    db.execute(
        "UPDATE subscriptions SET lease_owner = NULL, lease_until = NULL \
         WHERE store_id = $1 AND id = $2 AND lease_owner = $3 AND lease_epoch = $4",
        &[
            &lease.store_id,
            &lease.subscription_id,
            &lease.owner,
            &lease.epoch,
        ],
    )
    .await?;
    Ok(())
}

/// Moves the checkpoint to `position` after a 2xx (or past events the filter skipped) and
/// clears the retry state. `false`: the lease was lost, nothing moved.
pub async fn acknowledge(
    db: &impl Db,
    lease: &Lease,
    position: u64,
    delivered: bool,
) -> Result<bool, tokio_postgres::Error> {
    let updated = db
        .execute(
            "UPDATE subscriptions SET last_processed_event_global_position = $5, \
             retry_attempt = 0, next_attempt_at = NULL, pending_delivery_id = NULL, \
             pending_last_position = NULL, status_details = NULL, \
             last_delivered_at = CASE WHEN $6 THEN now() ELSE last_delivered_at END, \
             updated_at = now() \
             WHERE store_id = $1 AND id = $2 AND lease_owner = $3 AND lease_epoch = $4 \
             AND last_processed_event_global_position < $5",
            &[
                &lease.store_id,
                &lease.subscription_id,
                &lease.owner,
                &lease.epoch,
                &to_i64(position),
                &delivered,
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// A failed attempt, as the subscription shows it.
#[derive(Debug, Clone)]
pub struct FailureRecord<'a> {
    pub attempt: u32,
    pub error: &'a str,
    pub at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivery_id: &'a str,
    pub last_position: u64,
}

impl FailureRecord<'_> {
    /// `statusDetails`: `{lastError, lastErrorAt, retryCount, nextRetryAt}`.
    pub fn status_details(&self) -> Value {
        json!({
            "lastError": self.error,
            "lastErrorAt": self.at,
            "retryCount": self.attempt,
            "nextRetryAt": self.next_attempt_at,
            "deliveryId": self.delivery_id,
        })
    }
}

/// Stores a failed attempt and when to try again (the schedule survives a restart).
pub async fn record_failure(
    db: &impl Db,
    lease: &Lease,
    failure: &FailureRecord<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let updated = db
        .execute(
            "UPDATE subscriptions SET retry_attempt = $5, next_attempt_at = $6, \
             pending_delivery_id = $7, pending_last_position = $8, status_details = $9, \
             updated_at = now() \
             WHERE store_id = $1 AND id = $2 AND lease_owner = $3 AND lease_epoch = $4",
            &[
                &lease.store_id,
                &lease.subscription_id,
                &lease.owner,
                &lease.epoch,
                &i32::try_from(failure.attempt).unwrap_or(i32::MAX),
                &failure.next_attempt_at,
                &failure.delivery_id,
                &to_i64(failure.last_position),
                &failure.status_details(),
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// Attempts ran out and the subscription stops here: status `ERROR`, nothing skipped.
pub async fn stop_with_error(
    db: &impl Db,
    lease: &Lease,
    failure: &FailureRecord<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let updated = db
        .execute(
            "UPDATE subscriptions SET status = 'ERROR', retry_attempt = $5, next_attempt_at = NULL, \
             status_details = $6, updated_at = now() \
             WHERE store_id = $1 AND id = $2 AND lease_owner = $3 AND lease_epoch = $4",
            &[
                &lease.store_id,
                &lease.subscription_id,
                &lease.owner,
                &lease.epoch,
                &i32::try_from(failure.attempt).unwrap_or(i32::MAX),
                &failure.status_details(),
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// Attempts ran out in dead-letter mode: park the batch and move past it, in one transaction.
pub async fn park(
    client: &mut deadpool_postgres::Object,
    lease: &Lease,
    letter: &NewDeadLetter<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    dead_letters::insert(&*tx, letter).await?;
    if acknowledge(&*tx, lease, letter.last, false).await? {
        tx.commit().await?;
        Ok(true)
    } else {
        tx.rollback().await?;
        Ok(false)
    }
}
