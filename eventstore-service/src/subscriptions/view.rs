//! How a subscription is shown by the REST API. Header values and the secret are never shown.

use serde_json::{Value, json};

use super::db::SubscriptionRow;
use super::spec::InitialPosition;

/// The JSON of one subscription.
pub fn subscription(row: &SubscriptionRow) -> Value {
    let headers: serde_json::Map<String, Value> = row
        .webhook
        .headers
        .keys()
        .map(|k| (k.clone(), json!("<redacted>")))
        .collect();
    json!({
        "subscriptionId": row.id,
        "eventStoreName": row.store_name,
        "eventFilter": row.filter.to_spec(),
        "subscriberType": "webhook",
        "webhook": {
            "url": row.webhook.url.as_str(),
            "headers": headers,
            "timeoutMs": row.webhook.timeout.as_millis() as u64,
            "retryPolicy": row.webhook.retry_policy_spec,
            "signed": row.secret.is_some(),
        },
        "batchSize": row.batch_size,
        "onRetriesExhausted": row.on_exhausted.as_str(),
        "initialPosition": match row.initial_position {
            InitialPosition::Earliest => "earliest",
            InitialPosition::Latest => "latest",
        },
        "status": row.status.as_str(),
        "statusDetails": row.status_details,
        "lastProcessedEventGlobalPosition": row.checkpoint,
        "lag": row.lag(),
        "pendingRetry": (row.retry_attempt > 0).then(|| json!({
            "failedAttempts": row.retry_attempt,
            "nextAttemptAt": row.next_attempt_at,
            "deliveryId": row.pending_delivery_id,
        })),
        "lastDeliveredAt": row.last_delivered_at,
        "lease": row.lease_owner.as_ref().map(|owner| json!({
            "owner": owner,
            "until": row.lease_until,
        })),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    })
}
