//! The soak test's short form: two minutes of random commands from 16 clients while the event
//! store, the projection and Redis are killed and restarted, the webhook path fails and
//! PostgreSQL restarts once; then every guarantee is checked (`e2e_tests::soak`).
//!
//! Left out of the main test run by `.config/nextest.toml` (it takes about three minutes and loads the machine):
//! `scripts/checks.d/70-soak` runs it alone, after the other tests. `SOAK_DURATION_SECS` and
//! `SOAK_SEED` change the run.

use std::time::Duration;

use e2e_tests::soak::{self, SoakOptions};
use e2e_tests::stack::binaries;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_soak_under_faults_keeps_every_guarantee() {
    let secs = std::env::var("SOAK_DURATION_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let mut options = SoakOptions::new(Duration::from_secs(secs), binaries());
    if let Some(seed) = std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()) {
        options.seed = seed;
    }

    let summary = soak::run(options).await.expect("the soak rig starts");

    println!("{summary}");
    assert!(summary.passed(), "the soak test found problems:\n{summary}");
}
