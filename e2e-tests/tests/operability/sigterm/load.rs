//! The load of the SIGTERM test: clients that place and ship orders through the command service
//! (retrying with the same idempotency key until acknowledged) and clients that append straight
//! to the event store on fresh connections; everything they saw, journaled.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e_tests::soak::load::Accepted;
use e2e_tests::stack::API_KEY;
use serde_json::{Value, json};

/// A client gives a command up after this long (it never should).
const COMMAND_DEADLINE: Duration = Duration::from_secs(45);

/// One answer (or failure to get one) a client saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub what: String,
    /// The status, or `None` for a transport error.
    pub status: Option<u16>,
    pub retry_after: bool,
    /// For transport errors: whether it was a refused/failed connect (allowed while a service
    /// is down) rather than a request cut short (never allowed).
    pub connect_error: bool,
    pub detail: String,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "{}: {status} {}", self.what, self.detail),
            None => write!(f, "{}: no answer ({})", self.what, self.detail),
        }
    }
}

/// What the clients saw and what was acknowledged.
#[derive(Default)]
pub struct Journal {
    /// Every try of every command.
    pub command: Mutex<Vec<Seen>>,
    /// Every try of every direct append.
    pub direct: Mutex<Vec<Seen>>,
    /// The commands answered 2xx.
    pub accepted: Mutex<Vec<Accepted>>,
    /// The streams appended to (answered 201), with their expected version.
    pub appended: Mutex<Vec<(String, u64)>>,
}

async fn send(what: &str, request: reqwest::RequestBuilder) -> (Seen, Option<Value>) {
    let at = Instant::now();
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let body: Option<Value> = response.json().await.ok();
            let seen = Seen {
                at,
                what: what.to_owned(),
                status: Some(status),
                retry_after,
                connect_error: false,
                detail: body.as_ref().map(Value::to_string).unwrap_or_default(),
            };
            (seen, body)
        }
        Err(error) => {
            let mut detail = error.to_string();
            let mut cause: &dyn std::error::Error = &error;
            while let Some(next) = cause.source() {
                detail.push_str(&format!(": {next}"));
                cause = next;
            }
            let seen = Seen {
                at,
                what: what.to_owned(),
                status: None,
                retry_after: false,
                connect_error: error.is_connect(),
                detail,
            };
            (seen, None)
        }
    }
}

/// Sends one command until it is acknowledged (same idempotency key every time); records every
/// try. `None` when it never was (within [`COMMAND_DEADLINE`]).
async fn command_until_acknowledged(
    http: &reqwest::Client,
    journal: &Journal,
    url: String,
    key: String,
    body: Value,
) -> Option<Value> {
    let started = Instant::now();
    while started.elapsed() < COMMAND_DEADLINE {
        let request = http.post(&url).header("idempotency-key", &key).json(&body);
        let (seen, answer) = send(&key, request).await;
        let status = seen.status;
        journal.command.lock().unwrap().push(seen);
        match status {
            Some(200..=299) => return answer,
            Some(503) | None => tokio::time::sleep(Duration::from_millis(100)).await,
            Some(_) => return None,
        }
    }
    None
}

/// Places and ships orders until `until`.
pub async fn command_client(
    id: usize,
    command: String,
    journal: Arc<Journal>,
    until: Instant,
) -> usize {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let order = format!("sigterm-{id}-{n}");
        let place = json!({"orderId": order, "customerId": format!("c-{id}"),
                           "items": [{"productId": "p", "quantity": 1 + n % 3, "price": 2.5}]});
        let key = format!("place-{order}");
        let Some(placed) = command_until_acknowledged(
            &http,
            &journal,
            format!("{command}/orders"),
            key.clone(),
            place,
        )
        .await
        else {
            continue;
        };
        journal
            .accepted
            .lock()
            .unwrap()
            .push(accepted(key, &order, "order.placed", &placed));
        let key = format!("ship-{order}");
        let ship = json!({"trackingNumber": format!("T-{n}"), "carrier": "UPS"});
        if let Some(shipped) = command_until_acknowledged(
            &http,
            &journal,
            format!("{command}/orders/{order}/ship"),
            key.clone(),
            ship,
        )
        .await
        {
            journal
                .accepted
                .lock()
                .unwrap()
                .push(accepted(key, &order, "order.shipped", &shipped));
        }
    }
    n
}

fn accepted(key: String, order: &str, event_type: &'static str, answer: &Value) -> Accepted {
    Accepted {
        key,
        order_id: order.to_owned(),
        event_type,
        global_position: answer["globalPosition"].as_u64().unwrap_or(0),
        stream_version: answer["streamVersion"].as_u64().unwrap_or(0),
    }
}

/// Appends to a store of its own until `until`, each append on a fresh connection (so that a
/// refused connection and a request cut short can be told apart), retrying refused ones.
pub async fn direct_client(id: usize, eventstore: String, journal: Arc<Journal>, until: Instant) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let stream = format!("direct-{id}-{n}");
        let event_id = uuid::Uuid::new_v4();
        let body = json!({"events": [{"type": "direct.appended", "data": {"n": n}, "eventId": event_id}],
                          "options": {"expectedStreamVersion": "no_stream"}});
        let url = format!("{eventstore}/api/event-stores/direct/streams/{stream}");
        let started = Instant::now();
        while started.elapsed() < COMMAND_DEADLINE {
            let request = http.post(&url).header("x-api-key", API_KEY).json(&body);
            let (seen, _) = send(&stream, request).await;
            let (status, connect) = (seen.status, seen.connect_error);
            journal.direct.lock().unwrap().push(seen);
            match (status, connect) {
                (Some(201), _) => {
                    journal.appended.lock().unwrap().push((stream.clone(), 1));
                    break;
                }
                (None, true) => tokio::time::sleep(Duration::from_millis(100)).await,
                _ => break,
            }
        }
    }
}
