//! The load generator: `clients` tasks, each sending random commands to the command service
//! until the deadline or the command budget is spent — valid ones (place, and ship, deliver or
//! cancel an order in a state that allows it) and invalid ones (bad bodies, unknown orders,
//! commands on finished orders). Every command carries an `Idempotency-Key`; when the answer is
//! a 5xx, a 429 or nothing at all, the client sends the same command with the same key again
//! (bounded), as a careful client would. Each 2xx is recorded with the event it promises.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::commands::{Intent, Plan, plan};

/// Longest one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one command may keep being retried.
const COMMAND_RETRY_BUDGET: Duration = Duration::from_secs(45);

/// What the load generator is told.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub command_url: String,
    pub clients: usize,
    /// No new command after this instant.
    pub until: Instant,
    /// No more commands than this, in all.
    pub max_commands: u64,
    pub seed: u64,
}

/// A command answered 2xx: the event it promised.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub key: String,
    pub order_id: String,
    pub event_type: &'static str,
    pub global_position: u64,
    pub stream_version: u64,
}

/// What the load generator did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Commands started.
    pub commands: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    pub accepted: Vec<Accepted>,
    /// Final 4xx answers, by status.
    pub rejected: BTreeMap<u16, u64>,
    /// 5xx answers to single attempts (retried), by status.
    pub server_errors: BTreeMap<u16, u64>,
    /// Attempts that got no answer (refused, reset, timed out).
    pub transport_errors: u64,
    /// Commands that never got a final answer within their retry budget.
    pub unanswered: u64,
    /// Commands meant to be refused that were accepted: each is a bug.
    pub wrongly_accepted: Vec<String>,
    /// 2xx answers without the fields the API promises.
    pub malformed_answers: Vec<String>,
}

/// The orders the clients know of, with the status their last accepted command left.
#[derive(Debug, Default)]
pub struct KnownOrders {
    pub orders: Vec<KnownOrder>,
    /// Where each order id is in `orders`.
    index: HashMap<String, usize>,
}

/// One order, as of its newest accepted command.
#[derive(Debug)]
pub struct KnownOrder {
    pub id: String,
    pub status: &'static str,
    /// Stream version after that command: answers arrive out of order, the newest wins.
    pub version: u64,
}

/// Runs the clients to the end; returns what they saw.
pub async fn run(settings: LoadSettings) -> LoadReport {
    let known = Arc::new(Mutex::new(KnownOrders::default()));
    let report = Arc::new(Mutex::new(LoadReport::default()));
    let started = Arc::new(AtomicU64::new(0));
    let http = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(settings.clients)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            let mut report = LoadReport::default();
            report
                .malformed_answers
                .push(format!("no HTTP client: {e}"));
            return report;
        }
    };
    let tasks: Vec<_> = (0..settings.clients)
        .map(|index| {
            let client = Client {
                http: http.clone(),
                settings: settings.clone(),
                rng: StdRng::seed_from_u64(settings.seed.wrapping_add(index as u64)),
                known: known.clone(),
                report: report.clone(),
                started: started.clone(),
            };
            tokio::spawn(client.run())
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let mut report = std::mem::take(&mut *report.lock().await);
    report.commands = started.load(Ordering::SeqCst);
    report
}

struct Client {
    http: reqwest::Client,
    settings: LoadSettings,
    rng: StdRng,
    known: Arc<Mutex<KnownOrders>>,
    report: Arc<Mutex<LoadReport>>,
    started: Arc<AtomicU64>,
}

/// The final outcome of one command.
enum Outcome {
    Answered(u16, Value),
    Unanswered,
}

impl Client {
    async fn run(mut self) {
        while Instant::now() < self.settings.until {
            if self.started.fetch_add(1, Ordering::SeqCst) >= self.settings.max_commands {
                self.started.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            let plan = {
                let known = self.known.lock().await;
                plan(&mut self.rng, &known)
            };
            let outcome = self.send(&plan).await;
            self.record(&plan, outcome).await;
            let think = self.rng.gen_range(0..20);
            tokio::time::sleep(Duration::from_millis(think)).await;
        }
    }

    /// Sends `plan`, again with the same key after a 5xx, 429 or no answer.
    async fn send(&mut self, plan: &Plan) -> Outcome {
        let key = uuid::Uuid::new_v4().to_string();
        let deadline = Instant::now() + COMMAND_RETRY_BUDGET;
        let mut delay = Duration::from_millis(100);
        loop {
            let request = self
                .http
                .post(format!("{}{}", self.settings.command_url, plan.path))
                .header("Idempotency-Key", &key)
                .header("Content-Type", plan.content_type)
                .body(plan.body.clone());
            self.report.lock().await.requests += 1;
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    if status < 500 && status != 429 {
                        let mut body = serde_json::from_str(&text).unwrap_or(Value::Null);
                        if let Value::Object(map) = &mut body {
                            map.insert("__key".to_owned(), json!(key));
                        }
                        return Outcome::Answered(status, body);
                    }
                    if status >= 500 {
                        *self
                            .report
                            .lock()
                            .await
                            .server_errors
                            .entry(status)
                            .or_default() += 1;
                    }
                }
                Err(_) => self.report.lock().await.transport_errors += 1,
            }
            if Instant::now() + delay > deadline {
                return Outcome::Unanswered;
            }
            let jitter = self.rng.gen_range(0..=delay.as_millis() as u64 / 2);
            tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn record(&mut self, plan: &Plan, outcome: Outcome) {
        let Outcome::Answered(status, body) = outcome else {
            self.report.lock().await.unanswered += 1;
            return;
        };
        if !(200..300).contains(&status) {
            *self.report.lock().await.rejected.entry(status).or_default() += 1;
            return;
        }
        let Intent::Valid {
            event_type,
            status: new_status,
        } = plan.intent
        else {
            self.report
                .lock()
                .await
                .wrongly_accepted
                .push(format!("{} {} → {status}", plan.path, plan.why));
            return;
        };
        let fields = (
            body["orderId"].as_str(),
            body["globalPosition"].as_u64(),
            body["streamVersion"].as_u64(),
            body["__key"].as_str(),
        );
        let (Some(order_id), Some(global_position), Some(stream_version), Some(key)) = fields
        else {
            self.report
                .lock()
                .await
                .malformed_answers
                .push(format!("{} → {status} {body}", plan.path));
            return;
        };
        {
            let mut known = self.known.lock().await;
            let known = &mut *known;
            match known.index.get(order_id) {
                Some(&at) => {
                    let order = &mut known.orders[at];
                    if order.version < stream_version {
                        order.status = new_status;
                        order.version = stream_version;
                    }
                }
                None => {
                    known.index.insert(order_id.to_owned(), known.orders.len());
                    known.orders.push(KnownOrder {
                        id: order_id.to_owned(),
                        status: new_status,
                        version: stream_version,
                    });
                }
            }
        }
        self.report.lock().await.accepted.push(Accepted {
            key: key.to_owned(),
            order_id: order_id.to_owned(),
            event_type,
            global_position,
            stream_version,
        });
    }
}
