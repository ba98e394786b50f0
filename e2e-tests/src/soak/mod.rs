//! The fault-injection soak test: the four services as real processes on a PostgreSQL and a
//! Redis of the soak's own, the walkthrough's subscription delivering through a fault-injecting
//! proxy, many clients sending random commands while [`faults`] kills and restarts the event
//! store, the projection and Redis, breaks the webhook path and restarts PostgreSQL once. Then,
//! once the system has settled, [`store`] and [`read_models`] check that nothing acknowledged was
//! lost or doubled and that the read models are exactly what the events say.
//!
//! Run it with `cargo xtask soak --duration 120s` (the short form `scripts/checks.d/70-soak`
//! runs) or `--duration 600s`. [`run`] returns a [`Summary`]; it passed when it lists no problem.

mod commands;
pub mod faults;
pub mod load;
pub mod monitor;
pub mod proxy;
pub mod read_models;
mod report;
mod settings;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::servers::{Postgres, Redis};
use crate::stack::{HarnessError, Service, Stack, StackSettings};

pub use report::Summary;
pub use settings::SoakOptions;

/// The store and subscription of the walkthrough config.
const SUBSCRIPTION: &str = "/api/event-stores/orders/subscriptions/order-summary-projection";
/// How long the projection's rebuild may take.
const REBUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Everything the faults act on.
pub struct Rig {
    pub stack: Stack,
    pub postgres: Postgres,
    pub redis: Redis,
    pub proxy: proxy::WebhookProxy,
}

/// Runs the soak test; `Err` only when the rig itself could not be set up.
pub async fn run(options: SoakOptions) -> Result<Summary, HarnessError> {
    let begun = Instant::now();
    let work = settings::work_dir()?;
    eprintln!("soak: working in {}", work.display());
    let mut rig = rig(&options, &work).await?;
    let mut summary = Summary::new(&options, work.clone());
    eprintln!(
        "soak: stack up in {:.1} s; {} of load from {} clients, seed {}",
        begun.elapsed().as_secs_f64(),
        humantime(options.duration),
        options.clients,
        options.seed
    );

    // Load, faults and the monitor, side by side.
    let start = Instant::now();
    let until = start + options.duration;
    let watched = monitor::Watched {
        subscription_url: format!("{}{SUBSCRIPTION}", rig.stack.eventstore),
        projection_status_url: format!("{}/api/projections/orders/status", rig.stack.projection),
    };
    let stop_monitor = Arc::new(AtomicBool::new(false));
    let monitor = tokio::spawn(monitor::watch(watched.clone(), stop_monitor.clone()));
    let load = tokio::spawn(load::run(load::LoadSettings {
        command_url: rig.stack.command.clone(),
        clients: options.clients,
        until,
        max_commands: options.max_commands,
        seed: options.seed,
    }));
    let schedule = faults::schedule(options.duration, options.seed);
    summary.faults = faults::run(&mut rig, schedule, start, until).await;
    summary.setup_errors.extend(faults::recover(&mut rig).await);
    summary.load = load
        .await
        .map_err(|e| HarnessError(format!("the load generator panicked: {e}")))?;
    summary.load_time = start.elapsed();

    // Settle: every event delivered and projected.
    let settling = Instant::now();
    let mut events = store::read_from(&rig.stack.eventstore, 1).await?;
    let settled = settle(&watched, &rig, &mut events, options.settle_timeout).await;
    summary.settled_in = settled.then(|| settling.elapsed());
    stop_monitor.store(true, Ordering::SeqCst);
    summary.observations = monitor.await.unwrap_or_default();
    summary.final_subscription = subscription_now(&rig.stack, "").await;
    summary.dead_letters = subscription_now(&rig.stack, "/dead-letters").await;
    summary.proxy = proxy_counts(&rig.proxy);

    // Check.
    summary.store = store::check(&events, &summary.load.accepted);
    let expected = read_models::expected(&events);
    summary.orders = expected.orders.len();
    summary.customers = expected.customers.len();
    summary.revenue = read_models::revenue(&expected).to_string();
    summary.undecodable = expected.undecodable.clone();
    let namespace = rig.stack.settings().namespace.clone();
    let rebuilt_namespace = format!("{namespace}-rebuilt");
    let rebuilt = rig
        .stack
        .run_to_end(
            Service::Projection,
            "rebuild",
            &[("READ_MODEL_NAMESPACE", &rebuilt_namespace)],
            REBUILD_TIMEOUT,
        )
        .await;
    let redis_url = rig.redis.url();
    match (
        read_models::snapshot(&redis_url, &namespace, &expected).await,
        rebuilt,
    ) {
        (Ok(live), Ok(())) => {
            summary.projection_checkpoint = live.checkpoint;
            summary.live_vs_events = read_models::check_against_events(&live, &expected);
            match read_models::snapshot(&redis_url, &rebuilt_namespace, &expected).await {
                Ok(rebuilt) => summary.live_vs_rebuild = read_models::compare(&live, &rebuilt),
                Err(e) => summary
                    .setup_errors
                    .push(format!("reading the rebuild: {e}")),
            }
        }
        (Err(e), _) => summary
            .setup_errors
            .push(format!("reading the read models: {e}")),
        (_, Err(e)) => summary.setup_errors.push(format!("rebuild: {e}")),
    }
    summary.elapsed = begun.elapsed();
    let Rig { stack, proxy, .. } = rig;
    drop(stack);
    proxy.stop().await;
    if summary.passed() && !options.keep_work_dir {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(summary)
}

/// Starts PostgreSQL, Redis, the proxy and the stack.
async fn rig(options: &SoakOptions, work: &std::path::Path) -> Result<Rig, HarnessError> {
    let postgres = Postgres::start(work).await?;
    let redis = Redis::start(work).await?;
    let proxy = proxy::WebhookProxy::start()?;
    let config = settings::write_config(work)?;
    let stack = Stack::launch(StackSettings {
        bin_dir: options.bin_dir.clone(),
        database_url: postgres.url("postgres"),
        redis_url: redis.url(),
        namespace: "soak".to_owned(),
        config,
        webhook_base: Some(proxy.url.clone()),
        log_dir: work.join("logs"),
        rust_log: "info".to_owned(),
        extra_env: vec![(
            Service::EventStore,
            "EVENTSTORE_WEBHOOK_ALLOWLIST".to_owned(),
            "127.0.0.1".to_owned(),
        )],
    })
    .await?;
    proxy.set_target(&stack.projection);
    Ok(Rig {
        stack,
        postgres,
        redis,
        proxy,
    })
}

/// Waits (at most `timeout`) until the subscription and the projection have both reached the
/// store's head, reading events that arrive meanwhile into `events`. `true` when they did.
async fn settle(
    watched: &monitor::Watched,
    rig: &Rig,
    events: &mut Vec<shared_domain::event::ReadEvent>,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    let http = reqwest::Client::new();
    while Instant::now() < deadline {
        let head = events.last().map_or(0, |e| e.global_position);
        if let Ok(more) = store::read_from(&rig.stack.eventstore, head + 1).await {
            events.extend(more);
        }
        let head = events.last().map_or(0, |e| e.global_position);
        let mut now = monitor::Observations::default();
        monitor::sample(&http, watched, &mut now).await;
        if now.subscription_checkpoint >= head && now.projection_checkpoint >= head {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// `GET` of the subscription (`suffix` = "" or "/dead-letters") as JSON, or the error.
async fn subscription_now(stack: &Stack, suffix: &str) -> serde_json::Value {
    let url = format!("{}{SUBSCRIPTION}{suffix}", stack.eventstore);
    let answer = stack
        .http
        .get(&url)
        .header("X-API-Key", crate::stack::API_KEY)
        .send()
        .await;
    match answer {
        Ok(response) => response
            .json()
            .await
            .unwrap_or_else(|e| serde_json::json!({"error": e.to_string()})),
        Err(e) => serde_json::json!({"error": e.to_string()}),
    }
}

fn proxy_counts(proxy: &proxy::WebhookProxy) -> [u64; 4] {
    let c = proxy.counts();
    [
        c.forwarded.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.answers_lost.load(Ordering::Relaxed),
        c.unreachable.load(Ordering::Relaxed),
    ]
}

/// `120 s`, `10 min`.
pub fn humantime(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{:.0} s", d.as_secs_f64())
    }
}
