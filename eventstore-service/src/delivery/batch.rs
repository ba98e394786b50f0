//! What one delivery sends: the body (`{events, subscriptionId, eventStoreName, deliveryId,
//! attempt}`, the walkthrough's projection reads `events`) and the trace it continues.

use shared_domain::event::ReadEvent;
use shared_domain::service::TraceContext;
use shared_domain::wire::WebhookDelivery;
use tracing::Instrument;

use super::http::{self, FailedAttempt, WebhookCall};
use crate::subscriptions::db::SubscriptionRow;

/// Sends one batch to a subscription's webhook — the body, the configured headers, the
/// signature when it has a secret, the trace of the events — once. `Ok(status)` for a 2xx.
pub async fn send(
    client: &reqwest::Client,
    subscription: &SubscriptionRow,
    events: &[ReadEvent],
    delivery_id: &str,
    attempt: u32,
) -> Result<u16, FailedAttempt> {
    let trace = trace_of(events);
    let span = trace.span();
    let headers = subscription.webhook.header_pairs();
    let call = WebhookCall {
        url: &subscription.webhook.url,
        headers: &headers,
        secret: subscription.secret.as_ref(),
        delivery_id,
        body: body(
            events,
            &subscription.id,
            &subscription.store_name,
            delivery_id,
            attempt,
        ),
        timeout: subscription.webhook.timeout,
        trace: &trace,
    };
    // The attempt's log lines carry the trace of the events it delivers.
    async {
        let outcome = http::send(client, call).await;
        match &outcome {
            Ok(status) => tracing::debug!(status, delivery_id, attempt, "webhook answered"),
            Err(failed) => tracing::debug!(
                status = failed.status,
                error = %failed.error,
                delivery_id,
                attempt,
                "webhook attempt failed"
            ),
        }
        outcome
    }
    .instrument(span)
    .await
}

/// The JSON body of one attempt.
pub fn body(
    events: &[ReadEvent],
    subscription_id: &str,
    store: &str,
    delivery_id: &str,
    attempt: u32,
) -> Vec<u8> {
    let delivery = WebhookDelivery {
        events: events.to_vec(),
        subscription_id: Some(subscription_id.to_owned()),
        event_store_name: Some(store.to_owned()),
        delivery_id: Some(delivery_id.to_owned()),
        attempt: Some(attempt),
    };
    serde_json::to_vec(&delivery).unwrap_or_else(|e| unreachable!("JSON values serialise: {e}"))
}

/// A new delivery id (`webhook-id`): the same for every attempt of one batch.
pub fn new_delivery_id() -> String {
    format!("dlv_{}", uuid::Uuid::now_v7().simple())
}

/// The trace a delivery continues: the first event whose metadata carries a valid `traceparent`
/// (and its request id, under `requestId`, `request_id` or `x-request-id`, when valid); else a
/// new trace.
pub fn trace_of(events: &[ReadEvent]) -> TraceContext {
    for event in events {
        let Some(metadata) = event.metadata.as_ref() else {
            continue;
        };
        let Some(context) = metadata
            .get("traceparent")
            .and_then(|v| v.as_str())
            .and_then(TraceContext::from_traceparent)
        else {
            continue;
        };
        let request_id = ["requestId", "request_id", "x-request-id"]
            .iter()
            .find_map(|key| metadata.get(*key).and_then(|v| v.as_str()));
        return match request_id {
            Some(id) => context.with_request_id(id),
            None => context,
        };
    }
    TraceContext::new_root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(position: u64, metadata: Option<serde_json::Value>) -> ReadEvent {
        ReadEvent {
            stream_id: "o-1".into(),
            stream_position: position,
            global_position: position,
            event_id: uuid::Uuid::new_v4(),
            event_type: "order.placed".into(),
            data: json!({}),
            metadata,
            schema_version: 1,
            transaction_id: "t".into(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_body_carries_the_events_and_the_delivery_facts() {
        let bytes = body(&[event(1, None)], "sub", "orders", "dlv_1", 2);
        let parsed: WebhookDelivery = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(parsed.subscription_id.as_deref(), Some("sub"));
        assert_eq!(parsed.event_store_name.as_deref(), Some("orders"));
        assert_eq!(parsed.delivery_id.as_deref(), Some("dlv_1"));
        assert_eq!(parsed.attempt, Some(2));
    }

    #[test]
    fn the_trace_comes_from_the_events_metadata() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let events = [
            event(1, Some(json!({"traceparent": "garbage"}))),
            event(
                2,
                Some(json!({"traceparent": traceparent, "requestId": "req-7"})),
            ),
        ];
        let trace = trace_of(&events);
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace.request_id(), "req-7");
        assert_ne!(trace_of(&[event(1, None)]).trace_id(), trace.trace_id());
    }
}
