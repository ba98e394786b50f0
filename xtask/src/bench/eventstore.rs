//! `cargo xtask bench eventstore`: the service's append endpoint against the physical baseline.
//!
//! In one run, on one PostgreSQL (`DATABASE_URL`), in a database of its own:
//!
//! * **raw**: single-row `INSERT` transactions (autocommit) of an event-sized row, from N
//!   tokio-postgres connections: what the server can durably commit without the store;
//! * **service**: `POST /api/event-stores/bench/streams/{id}` on the service started in-process
//!   (this release build) from N HTTP clients, with 1 event per append and with 10, each append
//!   to a stream of its own (`expectedStreamVersion: no_stream`);
//!
//! at each client count (default 1, 8 and 32), printing events/s, p50 and p99 latency per
//! operation (transaction or request) and the ratio service/raw. The three cells of a client
//! count take turns in `--rounds` slices (see [`Args::rounds`]).

use std::time::Duration;

use clap::Parser;
use eventstore_service::{Application, Config};
use serde_json::{Value, json};
use shared_domain::service::Shutdown;
use tokio_postgres::NoTls;

use super::{BoxError, CpuTimes, DEFAULT_DATABASE_URL, Measurement, Table, drive, http};
use hyper::StatusCode;

/// Options of `bench eventstore`.
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Seconds each cell of the table is measured (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    pub duration_secs: u64,
    /// Client counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub clients: Vec<usize>,
    /// PostgreSQL connections of the service's pool.
    #[arg(long, default_value_t = 16)]
    pub pool_size: usize,
    /// Group-commit batches of the store in flight at once (EVENTSTORE_BATCHES_IN_FLIGHT).
    #[arg(long, default_value_t = 1)]
    pub batches_in_flight: usize,
    /// How long a batch waits for appends that are due (EVENTSTORE_BATCH_WAIT_US).
    #[arg(long, default_value_t = 1000)]
    pub batch_wait_us: u64,
    /// actix-web workers of the service (default: one per CPU).
    #[arg(long)]
    pub http_workers: Option<usize>,
    /// Slices each cell's time is cut into, the raw and service cells of one client count taking
    /// turns slice by slice, so that a drift of the machine's commit latency during the run
    /// (seen here: raw INSERTs at 8 clients from 5,000 to 12,000/s between runs minutes apart)
    /// weighs on baseline and service alike. 1: each cell in one piece.
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
}

/// Events per append of the service's cells, in the order they are measured and printed.
const EVENTS_PER_APPEND: [usize; 2] = [1, 10];

/// Warm-up before each slice after the first (connections are new in each slice).
const SLICE_WARMUP: Duration = Duration::from_millis(300);

const DATABASE: &str = "xtask_bench_eventstore";
/// The store the append rows write to (the `command` section appends here too).
pub const STORE: &str = "bench";

/// Runs the section and prints its table.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let url = recreate_database(&server, DATABASE).await?;
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let warmup = Duration::from_secs(1);
    eprintln!(
        "bench eventstore: database {DATABASE}, {} s per cell, clients {:?}",
        duration.as_secs(),
        args.clients
    );

    // The service, in-process on a free port.
    let mut config = Config::for_database(url.clone());
    config.db_pool_size = args.pool_size;
    config.batches_in_flight = args.batches_in_flight;
    config.batch_wait = Duration::from_micros(args.batch_wait_us);
    config.http_workers = args.http_workers;
    // Its own Tokio runtime, as in its own process: the load generator's tasks never share a
    // run queue with the service's writer and database connections.
    let service_runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("service")
        .enable_all()
        .build()?;
    let app = service_runtime
        .spawn(async move { Application::build(config).await })
        .await??;
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    let server_task = service_runtime.spawn(app.run_until_stopped(shutdown.clone()));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let created = http
        .post(format!("{base}/api/event-stores"))
        .json(&json!({ "name": STORE }))
        .send()
        .await?;
    if !created.status().is_success() {
        return Err(format!("creating the bench store: {}", created.status()).into());
    }

    let rounds = args.rounds.max(1);
    let slice = duration / rounds;
    let mut table = Table::default();
    for &clients in &args.clients {
        let mut raw: (Option<Measurement>, CpuTimes) = Default::default();
        let mut service: [(Option<Measurement>, BatchCounters, CpuTimes); 2] = Default::default();
        for round in 0..rounds {
            let warmup = if round == 0 { warmup } else { SLICE_WARMUP };
            let cpu = CpuTimes::now();
            merge(&mut raw.0, raw_inserts(&url, clients, warmup, slice).await?);
            add_cpu(&mut raw.1, cpu);
            for (cell, events) in service.iter_mut().zip(EVENTS_PER_APPEND) {
                let before = batch_counters(&http, &base).await?;
                let cpu = CpuTimes::now();
                let measured = service_appends(&base, clients, events, warmup, slice).await?;
                add_cpu(&mut cell.2, cpu);
                cell.1
                    .add_between(&before, &batch_counters(&http, &base).await?);
                merge(&mut cell.0, measured);
            }
        }
        let (raw, raw_cpu) = (raw.0.ok_or("no round ran")?, raw.1);
        eprintln!(
            "  raw INSERT, {clients} clients: {:.0} events/s, {}",
            raw.events_per_second(),
            raw_cpu.describe()
        );
        table.add("raw INSERT (1 row/txn)", clients, &raw, None);
        for ((measured, counters, cpu), events) in service.into_iter().zip(EVENTS_PER_APPEND) {
            let measured = measured.ok_or("no round ran")?;
            let batches = counters.batches.max(1.0);
            eprintln!(
                "  service, {events} events/append, {clients} clients: {:.0} events/s, {:.1} appends/batch, {:.0} µs/batch, {}",
                measured.events_per_second(),
                counters.appends / batches,
                counters.seconds / batches * 1e6,
                cpu.describe(),
            );
            let name = format!(
                "service, {events} event{}/append",
                if events == 1 { "" } else { "s" }
            );
            table.add(&name, clients, &measured, Some(raw.events_per_second()));
        }
    }
    shutdown.trigger();
    server_task.await??;
    service_runtime.shutdown_background();

    println!("{}", table.markdown());
    Ok(())
}

/// Single-row INSERT transactions from `clients` connections.
pub async fn raw_inserts(
    url: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement, BoxError> {
    let (setup, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    setup
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS raw_events (id bigserial PRIMARY KEY, \
             stream_id text NOT NULL, type text NOT NULL, data jsonb NOT NULL, \
             created_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(connection);
        let statement = client
            .prepare("INSERT INTO raw_events (stream_id, type, data) VALUES ($1, $2, $3)")
            .await?;
        connections.push(std::sync::Arc::new((client, statement)));
    }
    let data = event_data();
    drive(clients, warmup, duration, 1, move |client, i| {
        let connection = connections[client].clone();
        let data = data.clone();
        async move {
            let (db, statement) = &*connection;
            let stream = format!("raw-{clients}-{client}-{i}");
            db.execute(statement, &[&stream, &"bench.happened", &data])
                .await?;
            Ok(())
        }
    })
    .await
}

/// Calls of [`service_appends`] so far in this process.
static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Appends of `events` events to fresh streams from `clients` HTTP clients, each on a
/// connection of its own (the store [`STORE`] must exist on the service at `base`).
pub(super) async fn service_appends(
    base: &str,
    clients: usize,
    events: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement, BoxError> {
    let body = json!({
        "events": vec![json!({"type": "bench.happened", "data": event_data()}); events],
        "options": {"expectedStreamVersion": "no_stream"},
    });
    let body = bytes::Bytes::from(serde_json::to_vec(&body)?);
    let connections = http::Clients::connect(base, clients).await?;
    // Streams unique per call, so that slices and sections never meet on one.
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    drive(
        clients,
        warmup,
        duration,
        events as u64,
        move |client, i| {
            let (connections, body) = (connections.clone(), body.clone());
            let path = format!(
                "/api/event-stores/{STORE}/streams/s-{events}-{clients}-{call}-{client}-{i}"
            );
            async move {
                connections
                    .post_json(client, &path, body)
                    .await?
                    .expect(StatusCode::CREATED, "append")?;
                Ok(())
            }
        },
    )
    .await
}

/// Adds the CPU time spent since `before` (nothing where it cannot be read).
fn add_cpu(total: &mut CpuTimes, before: Option<CpuTimes>) {
    if let (Some(before), Some(now)) = (before, CpuTimes::now()) {
        total.add(now.since(before));
    }
}

/// `measured` added to `total` (the first slice becomes it).
fn merge(total: &mut Option<Measurement>, measured: Measurement) {
    match total {
        Some(total) => total.merge(&measured),
        None => *total = Some(measured),
    }
}

/// Group commits, the appends written by them and the seconds spent in them.
#[derive(Debug, Default, Clone, Copy)]
struct BatchCounters {
    batches: f64,
    appends: f64,
    seconds: f64,
}

impl BatchCounters {
    /// Adds what happened between two readings of the service's counters.
    fn add_between(&mut self, before: &Self, after: &Self) {
        self.batches += after.batches - before.batches;
        self.appends += after.appends - before.appends;
        self.seconds += after.seconds - before.seconds;
    }
}

/// The service's batch counters so far, from `GET /metrics`.
async fn batch_counters(http: &reqwest::Client, base: &str) -> Result<BatchCounters, BoxError> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok(BatchCounters {
        batches: value("eventstore_append_batches_total "),
        appends: value("eventstore_append_batch_appends_sum "),
        seconds: value("eventstore_append_batch_seconds_sum "),
    })
}

/// A small order-like event payload (~120 bytes of JSON).
fn event_data() -> Value {
    json!({
        "orderId": "0b8f7c1e-2d4a-4f7e-9a51-3c2e1d0f9b8a",
        "customerId": "customer-42",
        "items": [{"productId": "p-1", "quantity": 2, "price": 9.99}],
    })
}

/// Drops and creates the database `name` on `server` and migrates it for the event store; its URL.
pub async fn recreate_database(server: &str, name: &str) -> Result<String, BoxError> {
    let (admin, connection) = tokio_postgres::connect(server, NoTls).await?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let mut url = reqwest::Url::parse(server)?;
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    eventstore_service::db::migrate(&url).await?;
    Ok(url)
}
