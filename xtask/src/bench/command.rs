//! `cargo xtask bench command`: commands end to end against the event store's own append.
//!
//! In one run, on one PostgreSQL (`DATABASE_URL`), in a database of its own, with the event store
//! and the command service started in-process (this release build) on free ports:
//!
//! * **store append**: `POST /api/event-stores/bench/streams/{id}`, 1 event per append to a
//!   stream of its own (the `eventstore` section's service row): the store's raw append figure;
//! * **command**: each client places an order (`POST /orders`) then ships it
//!   (`POST /orders/{id}/ship`), again and again; one command is one stream read and one append
//!   over two HTTP hops, and writes one event;
//!
//! at each client count (default 8 and 32), printing commands (= events) per second, p50 and p99
//! latency of one command, and the ratio command/append.

use std::time::Duration;

use clap::Parser;
use serde_json::json;
use shared_domain::client::EventStoreClient;
use shared_domain::service::Shutdown;

use hyper::StatusCode;

use super::{BoxError, DEFAULT_DATABASE_URL, Measurement, Table, drive, http};

/// Options of `bench command`.
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Seconds each cell of the table is measured (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    pub duration_secs: u64,
    /// Client counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    pub clients: Vec<usize>,
    /// PostgreSQL connections of the event store's pool.
    #[arg(long, default_value_t = 16)]
    pub pool_size: usize,
}

const DATABASE: &str = "xtask_bench_command";

/// Runs the section and prints its table.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let url = super::eventstore::recreate_database(&server, DATABASE).await?;
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let warmup = Duration::from_secs(1);
    eprintln!(
        "bench command: database {DATABASE}, {} s per cell, clients {:?}",
        duration.as_secs(),
        args.clients
    );

    // The event store, in-process on a free port, with the command service's store and the
    // append section's store.
    let mut store_config = eventstore_service::Config::for_database(url);
    store_config.db_pool_size = args.pool_size;
    let store_app = eventstore_service::Application::build(store_config).await?;
    let store_base = format!("http://127.0.0.1:{}", store_app.port());
    let shutdown = Shutdown::new();
    let store_task = tokio::spawn(store_app.run_until_stopped(shutdown.clone()));
    let orders = EventStoreClient::new(&store_base, "orders")?;
    orders.create_store_if_missing(None).await?;
    orders
        .for_store(super::eventstore::STORE)
        .create_store_if_missing(None)
        .await?;

    // The command service, in-process on a free port, in front of it.
    let mut config = command_service::Config::new(store_base.clone());
    config.host = [127, 0, 0, 1].into();
    config.port = 0;
    let command_app = command_service::Application::build(config)?;
    let command_base = format!("http://127.0.0.1:{}", command_app.port());
    let command_task = tokio::spawn(command_app.serve(shutdown.clone())?);
    orders.ping().await?;

    let mut table = Table::default();
    for &clients in &args.clients {
        let append =
            super::eventstore::service_appends(&store_base, clients, 1, warmup, duration).await?;
        eprintln!(
            "  store append, {clients} clients: {:.0} events/s",
            append.events_per_second()
        );
        table.add("store append (1 event, HTTP)", clients, &append, None);
        let commands = place_then_ship(&command_base, clients, warmup, duration).await?;
        eprintln!(
            "  command place→ship, {clients} clients: {:.0} commands/s",
            commands.events_per_second()
        );
        table.add(
            "command (place, then ship)",
            clients,
            &commands,
            Some(append.events_per_second()),
        );
    }
    shutdown.trigger();
    command_task.await??;
    store_task.await??;

    println!("{}", table.markdown());
    println!("(for command rows, events/s = commands/s and the last column is command/append)");
    Ok(())
}

/// `clients` loops of: place an order (even operations), ship it (odd operations), each client
/// on a connection of its own.
async fn place_then_ship(
    base: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement, BoxError> {
    let connections = http::Clients::connect(base, clients).await?;
    // Order ids unique per run and cell, so cells never touch each other's orders.
    let run = std::process::id();
    drive(clients, warmup, duration, 1, move |client, i| {
        let connections = connections.clone();
        let order_id = format!("order-bench-{run}-{clients}-{client}-{}", i / 2);
        let (path, body, expected) = if i % 2 == 0 {
            (
                "/orders".to_owned(),
                json!({
                    "orderId": order_id,
                    "customerId": "customer-42",
                    "items": [{"productId": "p-1", "quantity": 2, "price": 9.99}],
                }),
                StatusCode::CREATED,
            )
        } else {
            (
                format!("/orders/{order_id}/ship"),
                json!({"trackingNumber": "TRK-1", "carrier": "UPS"}),
                StatusCode::OK,
            )
        };
        async move {
            let body = bytes::Bytes::from(serde_json::to_vec(&body)?);
            connections
                .post_json(client, &path, body)
                .await?
                .expect(expected, "command")?;
            Ok(())
        }
    })
    .await
}
