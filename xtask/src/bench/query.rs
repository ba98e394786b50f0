//! `cargo xtask bench query`: reads of the query service against raw Redis reads, same run.
//!
//! On the Redis at `REDIS_URL`, namespace `xtask-bench-query` (deleted first), the real
//! projector writes `--orders` orders (a third delivered, a third shipped, a third pending; 97
//! customers). Then, each for `--duration-secs` after a 1 s warm-up, from `--clients` concurrent
//! clients (default 32; each raw-Redis client has a TCP connection of its own, and the HTTP
//! client keeps one keep-alive connection per client ([`http`]); 1 client shows latency
//! without queueing):
//!
//! * **raw GET**: `GET` of a 250-byte string key — one Redis hop, the physical baseline;
//! * **raw HGETALL**: `HGETALL` of a random order's summary hash — what a single read fetches;
//! * **ReadModelStore::order / ::page**: the service's Redis layer alone (script + decoding),
//!   without HTTP;
//! * **GET /health/live**: the HTTP hop alone on this machine (server and client), no Redis;
//! * **GET /orders/{id}**: the query service started in-process, a random order each time;
//! * **GET /orders?limit=50**: a page of 50, at a random place in the list (its cursor is
//!   taken from a first walk), and the first page of one status;
//! * the random page again from a second instance with its page cache off
//!   (`QUERY_PAGE_CACHE_MB=0`): one Redis round trip for the index walk and revisions, the
//!   summaries from the summary cache;
//! * the single read and the random page again from a third instance with its summary cache
//!   off (`QUERY_CACHE_ENTRIES=0`, and so no page cache): every read a Redis round trip. The
//!   orders (and their 400 pages) fit in the default caches, so the first instance answers from
//!   memory once warm (the warm-up and the first walk fill them).
//!
//! Everything runs on one machine: client, service and Redis share its cores, so the service
//! rows also pay for the HTTP client's work; the ratio column is against raw GET.

use std::time::Duration;

use clap::Parser;
use projection_service::projector::Projector;
use query_service::store::{ListIndex, ReadModelStore};
use query_service::{Application, Config};
use redis::aio::ConnectionManager;
use serde_json::{Value, json};
use shared_domain::event::ReadEvent;
use shared_domain::read_model::ReadModelKeys;
use shared_domain::service::Shutdown;
use shared_domain::testing::redis::delete_namespace;

use super::{BoxError, Measurement, drive, http};
use hyper::StatusCode;

/// Options of `bench query`.
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Seconds each row is measured (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    pub duration_secs: u64,
    /// Concurrent clients (connections) per row (1: latency without queueing; 32: the goal).
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub clients: Vec<usize>,
    /// Orders projected before measuring.
    #[arg(long, default_value_t = 20_000)]
    pub orders: usize,
    /// HTTP worker threads of the service (default: actix's, one per core).
    #[arg(long)]
    pub workers: Option<usize>,
}

/// Namespace of the read models the bench reads.
const NAMESPACE: &str = "xtask-bench-query";
/// Orders per list page.
const PAGE: usize = 50;

/// Runs the section and prints its table.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let warmup = Duration::from_secs(1);
    eprintln!(
        "bench query: Redis namespace {NAMESPACE}, {} orders, {} s per row, clients {:?}",
        args.orders,
        duration.as_secs(),
        args.clients
    );
    delete_namespace(&redis_url, NAMESPACE).await?;
    fill(&redis_url, args.orders).await?;

    let mut config = Config::new(redis_url.as_str(), NAMESPACE);
    config.host = std::net::Ipv4Addr::LOCALHOST.into();
    config.port = 0;
    config.http_workers = args.workers;
    let shutdown = Shutdown::new();
    let (base, server) = start(config.clone(), &shutdown)?;
    // The same service without its page cache: pages read their index walk from Redis.
    config.page_cache_mb = 0;
    let (base_no_pages, server_no_pages) = start(config.clone(), &shutdown)?;
    // The same service without its summary cache: every read a Redis round trip.
    config.cache_entries = 0;
    let (base_uncached, server_uncached) = start(config, &shutdown)?;
    let cursors = page_cursors(&base).await?;
    let app_store = ReadModelStore::open(&redis_url, NAMESPACE, Duration::from_secs(5))?;
    let orders = args.orders;

    let mut rows: Vec<(String, usize, Measurement, Option<f64>)> = Vec::new();
    for &clients in &args.clients {
        let raw = raw_get(&redis_url, clients, warmup, duration).await?;
        let baseline = raw.events_per_second();
        eprintln!("  raw GET, {clients} clients: {baseline:.0}/s");
        rows.push(("raw Redis GET (250 B string)".into(), clients, raw, None));
        let hgetall = raw_hgetall(&redis_url, args.orders, clients, warmup, duration).await?;
        rows.push((
            "raw Redis HGETALL (order summary)".into(),
            clients,
            hgetall,
            Some(baseline),
        ));
        let store = app_store.clone();
        let direct_order = drive(clients, warmup, duration, 1, move |c, i| {
            let store = store.clone();
            async move {
                let order = format!("order-{}", spread(i + c as u64 * 7919, orders));
                store.order(&order, 0).await?.value.ok_or("missing order")?;
                Ok(())
            }
        })
        .await?;
        rows.push((
            "ReadModelStore::order (script, no HTTP)".into(),
            clients,
            direct_order,
            Some(baseline),
        ));
        let store = app_store.clone();
        let direct_page = drive(clients, warmup, duration, 1, move |_, _| {
            let store = store.clone();
            async move {
                let page = store.page(ListIndex::All, None, PAGE, 0).await?;
                if page.value.count == 0 {
                    return Err("an empty page".into());
                }
                Ok(())
            }
        })
        .await?;
        rows.push((
            format!("ReadModelStore::page of {PAGE} + JSON (no HTTP)"),
            clients,
            direct_page,
            Some(baseline),
        ));
        let floor = http_gets(&base, clients, warmup, duration, |_| {
            "/health/live".to_owned()
        })
        .await?;
        rows.push((
            "GET /health/live (HTTP floor: no Redis)".into(),
            clients,
            floor,
            Some(baseline),
        ));
        let single = http_gets(&base, clients, warmup, duration, move |i| {
            format!("/orders/order-{}", spread(i, orders))
        })
        .await?;
        eprintln!(
            "  GET /orders/{{id}}, {clients} clients: {:.0}/s",
            single.events_per_second()
        );
        rows.push(("GET /orders/{id}".into(), clients, single, Some(baseline)));
        let uncached = http_gets(&base_uncached, clients, warmup, duration, move |i| {
            format!("/orders/order-{}", spread(i, orders))
        })
        .await?;
        rows.push((
            "GET /orders/{id}, cache off".into(),
            clients,
            uncached,
            Some(baseline),
        ));
        for (service, suffix) in [
            (&base, ""),
            (&base_no_pages, ", page cache off"),
            (&base_uncached, ", cache off"),
        ] {
            let pages = http_gets(service, clients, warmup, duration, {
                let cursors = cursors.clone();
                move |i| {
                    let cursor = &cursors[spread(i, cursors.len())];
                    format!("/orders?limit={PAGE}{cursor}")
                }
            })
            .await?;
            rows.push((
                format!("GET /orders?limit={PAGE} (random page){suffix}"),
                clients,
                pages,
                Some(baseline),
            ));
        }
        let status = http_gets(&base, clients, warmup, duration, |_| {
            format!("/orders?status=pending&limit={PAGE}")
        })
        .await?;
        rows.push((
            format!("GET /orders?status=pending&limit={PAGE}"),
            clients,
            status,
            Some(baseline),
        ));
    }
    println!("\n{}", table(&rows));

    shutdown.trigger();
    let _ = server.await;
    let _ = server_no_pages.await;
    let _ = server_uncached.await;
    delete_namespace(&redis_url, NAMESPACE).await?;
    Ok(())
}

type Server = tokio::task::JoinHandle<std::io::Result<()>>;

/// Starts the service with `config` in-process; its base URL.
fn start(config: Config, shutdown: &Shutdown) -> Result<(String, Server), BoxError> {
    let app = Application::build(config)?;
    let base = format!("http://127.0.0.1:{}", app.port());
    Ok((base, tokio::spawn(app.run_until_stopped(shutdown.clone()))))
}

/// The `i`-th pick of a pseudo-random spread over `0..n` (a multiplicative hash: cheap,
/// deterministic, no shared RNG between clients).
fn spread(i: u64, n: usize) -> usize {
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize % n.max(1)
}

/// Projects `orders` orders with the real projector.
async fn fill(redis_url: &str, orders: usize) -> Result<(), BoxError> {
    let client = redis::Client::open(redis_url)?;
    let projector = Projector::new(
        ConnectionManager::new(client).await?,
        ReadModelKeys::new(NAMESPACE),
    );
    let mut global = 0u64;
    let mut batch = Vec::new();
    for n in 0..orders {
        let order = format!("order-{n}");
        let mut stream_position = 0;
        let mut event = |event_type: &str, data: Value| {
            global += 1;
            stream_position += 1;
            read_event(&order, stream_position, global, event_type, data)
        };
        batch.push(event(
            "order.placed",
            json!({"orderId": order, "customerId": format!("customer-{}", n % 97),
                   "items": [{"productId": "p-1", "quantity": 2, "price": 9.99},
                             {"productId": "p-2", "quantity": 1, "price": 0.1}],
                   "totalAmount": 20.08, "placedAt": "2024-05-01T12:00:00.250Z"}),
        ));
        if n % 3 != 0 {
            batch.push(event(
                "order.shipped",
                json!({"orderId": order, "trackingNumber": format!("TRK-{n}"), "carrier": "UPS",
                       "shippedAt": "2024-05-02T08:30:00Z"}),
            ));
        }
        if n % 3 == 2 {
            batch.push(event(
                "order.delivered",
                json!({"orderId": order, "deliveredAt": "2024-05-03T17:00:00Z"}),
            ));
        }
        if batch.len() >= 500 {
            projector.apply(&std::mem::take(&mut batch)).await?;
        }
    }
    projector.apply(&batch).await?;
    Ok(())
}

fn read_event(
    stream: &str,
    position: u64,
    global: u64,
    event_type: &str,
    data: Value,
) -> ReadEvent {
    ReadEvent {
        stream_id: stream.to_owned(),
        stream_position: position,
        global_position: global,
        event_id: uuid::Uuid::from_u64_pair(0, global),
        event_type: event_type.to_owned(),
        data,
        metadata: None,
        schema_version: 1,
        transaction_id: global.to_string(),
        created_at: chrono::DateTime::UNIX_EPOCH,
    }
}

/// The `&cursor=…` suffix of every page of the full list (the first page: empty).
async fn page_cursors(base: &str) -> Result<Vec<String>, BoxError> {
    let http = reqwest::Client::new();
    let mut cursors = vec![String::new()];
    let mut next = Some(format!("{base}/orders?limit={PAGE}"));
    while let Some(url) = next.take() {
        let response = http.get(&url).send().await?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered {}", response.status()).into());
        }
        if let Some(link) = response.headers().get("link") {
            let link = link.to_str()?;
            let cursor = link
                .split("cursor=")
                .nth(1)
                .and_then(|rest| rest.split('>').next())
                .ok_or("a Link header without a cursor")?;
            cursors.push(format!("&cursor={cursor}"));
            next = Some(format!("{base}/orders?limit={PAGE}&cursor={cursor}"));
        }
    }
    Ok(cursors)
}

/// `GET` of a 250-byte string from `clients` connections of their own.
async fn raw_get(
    redis_url: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement, BoxError> {
    let client = redis::Client::open(redis_url)?;
    let key = format!("{{{NAMESPACE}}}:raw");
    let mut connection = client.get_multiplexed_async_connection().await?;
    redis::cmd("SET")
        .arg(&key)
        .arg("x".repeat(250))
        .exec_async(&mut connection)
        .await?;
    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(client.get_multiplexed_async_connection().await?);
    }
    drive(clients, warmup, duration, 1, move |c, _| {
        let (mut connection, key) = (connections[c].clone(), key.clone());
        async move {
            let _: Vec<u8> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut connection)
                .await?;
            Ok(())
        }
    })
    .await
}

/// `HGETALL` of a random order summary from `clients` connections of their own.
async fn raw_hgetall(
    redis_url: &str,
    orders: usize,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Measurement, BoxError> {
    let client = redis::Client::open(redis_url)?;
    let generation = ReadModelKeys::new(NAMESPACE).generation("g0");
    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(client.get_multiplexed_async_connection().await?);
    }
    drive(clients, warmup, duration, 1, move |c, i| {
        let mut connection = connections[c].clone();
        let key =
            generation.order_summary(&format!("order-{}", spread(i + c as u64 * 7919, orders)));
        async move {
            let fields: Vec<String> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut connection)
                .await?;
            if fields.is_empty() {
                return Err(format!("{key} is empty").into());
            }
            Ok(())
        }
    })
    .await
}

/// `GET path(i)` on `base` from `clients` concurrent clients, each on a connection of its own;
/// anything but 200 fails the run.
async fn http_gets<U>(
    base: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    path: U,
) -> Result<Measurement, BoxError>
where
    U: Fn(u64) -> String + Clone + Send + Sync + 'static,
{
    let connections = http::Clients::connect(base, clients).await?;
    drive(clients, warmup, duration, 1, move |c, i| {
        let (connections, path) = (connections.clone(), path(i + c as u64 * 7919));
        async move {
            connections
                .get(c, &path)
                .await?
                .expect(StatusCode::OK, &format!("GET {path}"))?;
            Ok(())
        }
    })
    .await
}

/// The rows as Markdown: requests per second, p50/p99 latency, ratio to raw GET.
fn table(rows: &[(String, usize, Measurement, Option<f64>)]) -> String {
    let mut out = String::from("| read | clients | req/s | p50 ms | p99 ms | vs raw GET |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for (name, clients, m, baseline) in rows {
        let ratio = baseline.map_or("—".to_owned(), |b| {
            format!("{:.2}×", m.events_per_second() / b)
        });
        out.push_str(&format!(
            "| {name} | {clients} | {:.0} | {:.2} | {:.2} | {ratio} |\n",
            m.events_per_second(),
            m.p50_ms(),
            m.p99_ms()
        ));
    }
    out
}
