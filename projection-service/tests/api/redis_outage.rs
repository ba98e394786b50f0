//! Redis going away during deliveries: the webhook answers 5xx (so the store retries), and once
//! Redis is back the retried deliveries leave read models equal to an uninterrupted run's.
//!
//! Each test starts its OWN throwaway `redis-server` on a free port (never the shared one).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shared_domain::testing::free_port;

use crate::app::{Options, spawn_app_with};
use crate::events::histories;
use crate::helpers::TestRedis;

/// A redis-server of this test's own, with its data directory.
struct OwnRedis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> Self {
        // Another test may grab the same "free" port between our look-up and the server's
        // bind; then our server exits at once and we try another port.
        for _ in 0..10 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("projection-test-redis-{port}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut redis = Self {
                port,
                dir,
                child: None,
            };
            if redis.spawn() {
                return redis;
            }
        }
        panic!("cannot start an own redis-server");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on `port`; `false` if it exited (the port was taken).
    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return false;
            }
            let up = redis::Client::open(self.url())
                .unwrap()
                .get_connection()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if up {
                return true;
            }
        }
        panic!("own redis-server did not come up");
    }

    /// Stops the server after writing its data to disk (`SHUTDOWN SAVE`), as a restart of a
    /// durable Redis would keep it.
    fn stop(&mut self) {
        if let Ok(mut conn) = redis::Client::open(self.url()).unwrap().get_connection() {
            let _ = redis::cmd("SHUTDOWN").arg("SAVE").exec(&mut conn);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: it keeps its connections but answers
    /// nothing, as a stalled server does.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn reference(events: &[shared_domain::event::ReadEvent]) -> TestRedis {
    let redis = TestRedis::new().await;
    for batch in events.chunks(50) {
        redis.projector().apply(batch).await.unwrap();
    }
    redis
}

#[tokio::test]
async fn redis_stopped_gives_5xx_and_retries_after_it_returns_match_an_uninterrupted_run() {
    let events = histories(100, 21, 1);
    let expected = reference(&events).await;
    let mut redis = OwnRedis::start();
    let app = spawn_app_with(Options {
        redis_url: Some(redis.url()),
        ..Options::default()
    })
    .await;
    let batches: Vec<_> = events.chunks(50).collect();
    assert_eq!(app.deliver(batches[0]).await.status(), 200);

    redis.stop();
    let during = app.deliver(batches[1]).await;
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();

    assert_eq!(during.status(), 503);
    assert!(during.headers().contains_key("retry-after"));
    assert_eq!(ready.status(), 503);

    assert!(redis.spawn(), "the port was taken while Redis was down");
    // The store retries the failed batch, then goes on.
    for batch in &batches[1..] {
        app.deliver_with_retries(batch, 50).await;
    }
    assert_eq!(app.redis.dump().await, expected.dump().await);
    expected.cleanup().await;
    app.stop().await;
}

#[tokio::test]
async fn redis_stalling_in_the_middle_of_a_delivery_gives_5xx_and_the_retry_completes_it() {
    let events = histories(300, 22, 1);
    let expected = reference(&events).await;
    let redis = OwnRedis::start();
    let app = spawn_app_with(Options {
        redis_url: Some(redis.url()),
        ..Options::default()
    })
    .await;

    // Freeze Redis while the first delivery is being applied.
    let delivery = app.deliver(&events);
    let freeze = async {
        tokio::time::sleep(Duration::from_millis(2)).await;
        redis.signal("-STOP");
    };
    let (response, ()) = tokio::join!(delivery, freeze);
    let status = response.status();
    redis.signal("-CONT");

    if status.is_success() {
        // The batch finished before the freeze hit; freeze again, now certainly mid-nothing.
        eprintln!("delivery completed before the freeze; checking a frozen delivery instead");
        redis.signal("-STOP");
        let frozen = app.deliver(&events).await;
        redis.signal("-CONT");
        assert!(frozen.status().is_server_error(), "{}", frozen.status());
    } else {
        assert!(status.is_server_error(), "{status}");
    }
    app.deliver_with_retries(&events, 50).await;

    assert_eq!(app.redis.dump().await, expected.dump().await);
    expected.cleanup().await;
    app.stop().await;
}
