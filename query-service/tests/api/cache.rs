//! The process cache of order summaries against a real Redis: it is used, Redis's invalidation
//! pushes keep it current, read-your-writes stays exact through it, and it empties when its
//! tracking connection is lost.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{TestApp, ThrowawayRedis, spawn_app, spawn_app_with, test_config};
use crate::model::Model;

/// A counter or gauge from `/metrics` (0 when absent).
async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn hits(app: &TestApp) -> f64 {
    metric(app, "query_cache_reads_total{result=\"hit\"}").await
}

/// Waits until the cache is on (its tracking connection is up).
async fn wait_cache_up(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(app, "query_cache_up").await != 1.0 {
        assert!(Instant::now() < deadline, "the cache did not come on");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The page at `path` once `done` holds for it (polled for up to 5 s).
async fn until_page(app: &TestApp, path: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    until(
        &format!("GET {path}"),
        || async { app.page(path).await.0 },
        |p| done(p),
    )
    .await
}

/// What `read` answers once `done` holds for it (polled every 5 ms for up to 5 s); `what` names
/// the read in the failure.
async fn until<T: std::fmt::Debug, F: Future<Output = T>>(
    what: &str,
    mut read: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = read().await;
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not turn (the change never reached the cache): {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Script calls Redis has run (`EVAL` and `EVALSHA`): every read of the service is one.
async fn script_calls(redis: &ThrowawayRedis) -> u64 {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut connection)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_eval:") || l.starts_with("cmdstat_evalsha:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

async fn status(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let body: Value = response.json().await.unwrap();
    body["status"].as_str().unwrap().to_owned()
}

/// The client id of this app's tracking connection, from `CLIENT LIST`.
async fn tracking_client(app: &TestApp) -> Option<u64> {
    let mut redis = app.projector.redis().clone();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut redis)
        .await
        .unwrap();
    let name = format!(
        "name={}",
        query_service::store::tracking_client_name(&app.keys)
    );
    list.lines()
        .find(|line| line.split(' ').any(|field| field == name))
        .and_then(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(|id| id.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_reads_hit_and_every_change_reaches_the_cache() {
    let app = spawn_app().await;
    wait_cache_up(&app).await;
    let mut model = Model::new();
    app.project(&[model.place("order-1", "cust-1", "5", 1)])
        .await;
    assert_eq!(status(&app, "/orders/order-1").await, "pending");
    let before = hits(&app).await;

    for _ in 0..5 {
        assert_eq!(status(&app, "/orders/order-1").await, "pending");
    }
    assert!(
        hits(&app).await >= before + 5.0,
        "repeated reads are answered from the cache"
    );

    // The cache has no expiry: only Redis's push can make a plain read see the change.
    for (event, wanted) in [
        (model.ship("order-1"), "shipped"),
        (model.deliver("order-1"), "delivered"),
    ] {
        app.project(&[event]).await;
        let read = || status(&app, "/orders/order-1");
        until(&format!("a plain read (wanted {wanted:?})"), read, |s| {
            s == wanted
        })
        .await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demanded_position_is_answered_exactly_through_the_cache() {
    let app = spawn_app().await;
    wait_cache_up(&app).await;
    let mut model = Model::new();
    app.project(&[model.place("order-1", "cust-1", "5", 1)])
        .await;
    let before = hits(&app).await;
    for round in 0..30 {
        // Cached at the current position…
        status(&app, "/orders/order-1").await;
        status(&app, "/orders/order-1").await;
        // …then changed, and read back at once by position.
        let (event, wanted) = if round % 2 == 0 {
            (model.ship("order-1"), "shipped")
        } else {
            (model.cancel("order-1"), "cancelled")
        };
        app.project(&[event]).await;
        let path = format!(
            "/orders/order-1?minGlobalPosition={}",
            model.last_position()
        );
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200);
        let position: u64 = response.headers()["x-global-position"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(position >= model.last_position());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], wanted, "round {round}");
        assert_eq!(body["_revision"], round + 2, "round {round}");
    }
    assert!(hits(&app).await > before, "the cache took part");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_come_from_the_cache_only_at_the_revisions_redis_holds() {
    let app = spawn_app().await;
    wait_cache_up(&app).await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 59, 5)).await;
    app.project(&[model.place("order-top", "cust-1", "5", 1)])
        .await;
    let (first, _) = app.page("/orders?limit=60").await;
    let before = hits(&app).await;
    let (again, _) = app.page("/orders?limit=60").await;
    assert_eq!(again, first);
    assert!(
        hits(&app).await >= before + 60.0,
        "a repeated page takes every summary from the cache"
    );

    // A page that demands the change's position shows it at once; a plain read once Redis has
    // pushed the change (the page itself is held, see the test below).
    app.project(&[model.ship("order-top")]).await;
    let demanded = format!(
        "/orders?limit=60&minGlobalPosition={}",
        model.last_position()
    );
    let (after, _) = app.page(&demanded).await;
    assert_eq!(after[0]["orderId"], "order-top");
    assert_eq!(after[0]["status"], "shipped");
    let plain = until_page(&app, "/orders?limit=60", |p| p[0]["status"] == "shipped").await;
    assert_eq!(plain, after);
    let expected = model.newest_first(|_| true);
    let seen: Vec<&str> = after
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(
        seen,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for order in &after {
        let id = order["orderId"].as_str().unwrap();
        let revision = order["_revision"].as_u64().unwrap();
        let single: Value = app
            .get(&format!(
                "/orders/{id}?minGlobalPosition={}",
                model.last_position()
            ))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(single["_revision"], revision, "{id}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_page_needs_no_redis_round_trip_until_its_index_or_an_order_on_it_changes() {
    // Arrange: a Redis of its own, so that its command counts are this service's alone.
    let redis = ThrowawayRedis::start();
    let app = spawn_app_with(test_config(&redis.url())).await;
    wait_cache_up(&app).await;
    let mut model = Model::new();
    app.project(&model.mixed("order", 30, 9)).await;
    let (first, next) = app.page("/orders?limit=10").await;
    let next = next.expect("a second page");
    let (second, _) = app.page(&next).await;
    let (pending, _) = app.page("/orders?status=pending&limit=10").await;

    // Act + Assert: the same pages again, answered from the process.
    let calls = script_calls(&redis).await;
    for _ in 0..5 {
        assert_eq!(
            app.page("/orders?limit=10").await,
            (first.clone(), Some(next.clone()))
        );
        assert_eq!(app.page(&next).await.0, second);
        assert_eq!(app.page("/orders?status=pending&limit=10").await.0, pending);
    }
    assert_eq!(
        script_calls(&redis).await,
        calls,
        "repeated pages are answered without reading Redis"
    );

    // A new order changes the all-orders index: its first page shows it, read from Redis.
    app.project(&[model.place("order-new", "cust-1", "5", 1)])
        .await;
    let top = until_page(&app, "/orders?limit=10", |p| p[0]["orderId"] == "order-new").await;
    assert_eq!(top.len(), 10);
    assert_eq!(top[1..], first[..9]);
    assert!(script_calls(&redis).await > calls);
    // A status move changes an order on the pending page (and the pending index).
    let moved = pending[3]["orderId"].as_str().unwrap().to_owned();
    app.project(&[model.ship(&moved)]).await;
    let now = until_page(&app, "/orders?status=pending&limit=10", |p| {
        p.iter().all(|o| o["orderId"] != moved.as_str())
    })
    .await;
    let expected = model.newest_first(|o| o.status == "pending");
    let seen: Vec<&str> = now.iter().map(|o| o["orderId"].as_str().unwrap()).collect();
    assert_eq!(
        seen,
        expected
            .iter()
            .take(10)
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    // The all-orders page holding it shows the new status, though that index did not change.
    let shown = until_page(&app, "/orders?limit=10", |p| {
        p.iter()
            .any(|o| o["orderId"] == moved.as_str() && o["status"] == "shipped")
            || !p.iter().any(|o| o["orderId"] == moved.as_str())
    })
    .await;
    for order in &shown {
        let id = order["orderId"].as_str().unwrap();
        assert_eq!(order["status"], model.orders[id].status, "{id}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_tracking_connection_empties_the_cache_before_it_is_used_again() {
    let app = spawn_app().await;
    wait_cache_up(&app).await;
    let mut model = Model::new();
    app.project(&[model.place("order-1", "cust-1", "5", 1)])
        .await;
    status(&app, "/orders/order-1").await;
    let before = hits(&app).await;
    status(&app, "/orders/order-1").await;
    assert!(hits(&app).await > before, "cached");
    let old = tracking_client(&app).await.expect("a tracking connection");

    // Kill the tracking connection, then change the order: no push can tell the service.
    let mut redis = app.projector.redis().clone();
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(old)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    app.project(&[model.ship("order-1")]).await;

    // The service tracks again on a new connection…
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = tracking_client(&app).await;
        if now.is_some_and(|id| id != old) && metric(&app, "query_cache_up").await == 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "tracking did not come back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // …and no entry from before the loss survived it.
    assert_eq!(status(&app, "/orders/order-1").await, "shipped");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_refuses_tracking_leaves_the_cache_off_and_reads_exact() {
    // Arrange: a Redis whose user may not turn on CLIENT TRACKING (as some managed offerings).
    let redis = ThrowawayRedis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("-client|tracking")
        .exec_async(&mut admin)
        .await
        .unwrap();
    let app = spawn_app_with(test_config(&redis.url())).await;
    app.wait_ready().await;
    let mut model = Model::new();
    app.project(&[model.place("order-1", "cust-1", "5", 1)])
        .await;

    // Act + Assert: every read goes to Redis, so a plain read sees each change at once.
    for (event, wanted) in [
        (model.ship("order-1"), "shipped"),
        (model.deliver("order-1"), "delivered"),
    ] {
        status(&app, "/orders/order-1").await;
        app.project(&[event]).await;
        assert_eq!(status(&app, "/orders/order-1").await, wanted);
    }
    let (page, _) = app.page("/orders").await;
    assert_eq!(page[0]["status"], "delivered");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(metric(&app, "query_cache_up").await, 0.0);
    assert_eq!(hits(&app).await, 0.0);
    app.stop().await;
}
