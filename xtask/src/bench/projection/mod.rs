//! `cargo xtask bench projection`: how fast order events become Redis read models.
//!
//! In one run, on one Redis (`REDIS_URL`, namespace `xtask-bench-projection`, deleted first) and,
//! for the rows that need the event store, one PostgreSQL (`DATABASE_URL`, database
//! `xtask_bench_projection`):
//!
//! * **raw SET**: pipelines of 100 `SET`s of a 200-byte value (`redis-benchmark -P 100`), the
//!   physical baseline of this Redis from this client;
//! * **webhook**: `POST /api/projections/orders/events` on the service started in-process, the
//!   exact delivery body with 100 events (50 orders: half placed → shipped → delivered, half only
//!   placed), from N clients each sending its own orders;
//! * **rebuild (memory)**: a rebuild reading pre-built pages from memory: the Redis side alone;
//! * **rebuild (event store)**: a rebuild through the real read-all API of the event store;
//! * **lag**: appends at a steady rate (default 500 events/s, one event per append) to the event
//!   store, whose subscription delivers to the service; from each append's 201 to the moment
//!   the projection's checkpoint channel announces its position: p50 and p99 ([`lag`]).

mod events;
mod lag;
mod rebuild;

use std::time::Duration;

use clap::Parser;
use projection_service::{Application, Config};
use shared_domain::service::Shutdown;
use shared_domain::testing::redis::delete_namespace;

use super::{BoxError, Measurement, Table, drive};

/// Options of `bench projection`.
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Seconds each throughput cell is measured (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    pub duration_secs: u64,
    /// Client counts for the webhook and raw rows.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    pub clients: Vec<usize>,
    /// Events a rebuild replays.
    #[arg(long, default_value_t = 100_000)]
    pub rebuild_events: usize,
    /// Append rate of the lag measurement, events per second.
    #[arg(long, default_value_t = 500)]
    pub lag_rate: u64,
    /// Seconds of the lag measurement.
    #[arg(long, default_value_t = 20)]
    pub lag_secs: u64,
}

/// Namespace of the read models the bench writes.
const NAMESPACE: &str = "xtask-bench-projection";
/// PostgreSQL database of the event store rows.
const DATABASE: &str = "xtask_bench_projection";
/// Token of the in-process projection service.
const TOKEN: &str = "bench-token";
/// Events per delivery.
const BATCH: usize = 100;

/// Runs the section and prints its tables.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let warmup = Duration::from_secs(1);
    eprintln!(
        "bench projection: Redis namespace {NAMESPACE}, {} s per cell, clients {:?}",
        duration.as_secs(),
        args.clients
    );

    let mut table = Table::default();
    for &clients in &args.clients {
        delete_namespace(&redis_url, NAMESPACE).await?;
        let raw = raw_sets(&redis_url, clients, warmup, duration).await?;
        eprintln!(
            "  raw pipelined SET, {clients} clients: {:.0}/s",
            raw.events_per_second()
        );
        let webhook = webhook(&redis_url, clients, warmup, duration).await?;
        eprintln!(
            "  webhook, {clients} clients: {:.0} events/s",
            webhook.events_per_second()
        );
        table.add(
            &format!("raw SET, pipelines of {BATCH}"),
            clients,
            &raw,
            None,
        );
        table.add(
            &format!("webhook, batches of {BATCH}"),
            clients,
            &webhook,
            Some(raw.events_per_second()),
        );
    }
    println!("\n{}", table.markdown());

    let rebuilds = rebuild::run(&redis_url, args.rebuild_events).await?;
    println!("\n{rebuilds}");

    let lag = lag::run(
        &redis_url,
        args.lag_rate,
        Duration::from_secs(args.lag_secs),
    )
    .await?;
    println!("\n{lag}");
    delete_namespace(&redis_url, NAMESPACE).await?;
    Ok(())
}

/// Pipelines of [`BATCH`] `SET`s from `clients` connections.
async fn raw_sets(
    redis_url: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement, BoxError> {
    let client = redis::Client::open(redis_url)?;
    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(client.get_multiplexed_async_connection().await?);
    }
    let value = "x".repeat(200);
    drive(clients, warmup, duration, BATCH as u64, move |c, i| {
        let mut connection = connections[c].clone();
        let value = value.clone();
        async move {
            let mut pipe = redis::pipe();
            for k in 0..BATCH {
                pipe.set(
                    format!(
                        "{{{NAMESPACE}}}:raw:{c}:{}",
                        (i as usize * BATCH + k) % 100_000
                    ),
                    &value,
                )
                .ignore();
            }
            pipe.query_async::<()>(&mut connection).await?;
            Ok(())
        }
    })
    .await
}

/// Deliveries of [`BATCH`] events to the service from `clients` HTTP clients.
async fn webhook(
    redis_url: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement, BoxError> {
    let (base, shutdown, server) = start_projection(redis_url, None).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{base}/api/projections/orders/events");
    let measured = drive(clients, warmup, duration, BATCH as u64, move |c, i| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let body = events::delivery(&events::batch(clients, c, i));
            let response = http
                .post(url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            if !response.status().is_success() {
                let status = response.status();
                return Err(
                    format!("delivery answered {status}: {}", response.text().await?).into(),
                );
            }
            response.bytes().await?;
            Ok(())
        }
    })
    .await;
    shutdown.trigger();
    let _ = server.await;
    measured
}

/// The projection service in-process on a free port, on [`NAMESPACE`]; its base URL.
async fn start_projection(
    redis_url: &str,
    eventstore_url: Option<&str>,
) -> Result<
    (
        String,
        Shutdown,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ),
    BoxError,
> {
    let mut config = Config::new(redis_url, NAMESPACE, TOKEN);
    config.host = std::net::Ipv4Addr::LOCALHOST.into();
    config.port = 0;
    config.max_body_bytes = 8 * 1024 * 1024;
    if let Some(url) = eventstore_url {
        config.eventstore.url = url.to_owned();
    }
    let app = Application::build(config)?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = Shutdown::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    Ok((base, shutdown, server))
}
