//! `command-service healthcheck`: asks the local service's `GET /health/live` and turns the
//! answer into an exit code, so a container image needs no curl.

use std::time::Duration;

/// How long the probe waits for an answer.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// `Ok` when `GET http://127.0.0.1:{port}/health/live` answers 200 within [`TIMEOUT`].
pub async fn check_live(port: u16) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let url = format!("http://127.0.0.1:{port}/health/live");
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered {}", response.status()))
    }
}
