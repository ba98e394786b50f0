//! Schemathesis (property-based API fuzzing from PyPI) against each service's own
//! `/openapi.json`, on a stack started for the purpose: a bounded number of generated requests
//! per operation, valid and invalid, and the run fails on any 5xx, on a response whose body
//! does not match its documented schema, on an undocumented status code or content type.
//!
//! Left out of the main test run by `.config/nextest.toml` (it needs the schemathesis CLI): `scripts/checks.d/71-schemathesis`
//! installs it into the checks' venv and runs this with `SCHEMATHESIS=<path>`.
//! `SCHEMATHESIS_MAX_EXAMPLES` (default 15) bounds the examples per operation.

use std::process::Stdio;
use std::time::Duration;

use e2e_tests::stack::{API_KEY, PROJECTION_TOKEN, Service, Stack};

/// The checks that fail the run (schemathesis' names).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
/// Longest one service's run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The query service answers 503 (with `Retry-After`) when a client asks to read at a global
/// position the projection has not reached within the wait it allowed — the design's
/// read-your-writes contract, which generated positions hit; any other 5xx still fails.
const QUERY_CONFIG: &str = r#"
[checks.not_a_server_error]
expected-statuses = ["1xx", "2xx", "3xx", "4xx", "503"]
"#;

/// Runs schemathesis against `base`; returns whether it passed, and its output.
async fn fuzz(base: &str, headers: &[String], config: Option<&str>) -> (bool, String) {
    let program = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_owned());
    let examples = std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| "15".to_owned());
    let mut command = tokio::process::Command::new(&program);
    let config_file = std::env::temp_dir().join(format!(
        "deltabase-schemathesis-{}.toml",
        std::process::id()
    ));
    if let Some(config) = config {
        std::fs::write(&config_file, config).expect("write the schemathesis config");
        command.arg("--config-file").arg(&config_file);
    }
    command
        .args(["run", &format!("{base}/openapi.json"), "--url", base])
        .args(["--checks", CHECKS, "--max-examples", &examples])
        .args(["--phases", "examples,coverage,fuzzing", "--workers", "2"])
        .args([
            "--request-timeout",
            "10",
            "--seed",
            "20261126",
            "--no-color",
        ])
        .args([
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for header in headers {
        command.args(["--header", header]);
    }
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output()).await;
    let _ = std::fs::remove_file(&config_file);
    let output = output
        .unwrap_or_else(|_| panic!("{program} ran longer than {RUN_TIMEOUT:?} against {base}"))
        .unwrap_or_else(|e| panic!("cannot run {program} (pip install schemathesis): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_service_survives_schemathesis_without_5xx_or_schema_violations() {
    // Arrange: the whole stack, each service with the credentials its API documents.
    // Reads that wait for a position the projection never reaches give up after 1 s, not 10.
    let stack = Stack::start_with(vec![(
        Service::Query,
        "READ_YOUR_WRITES_MAX_WAIT_MS".to_owned(),
        "1000".to_owned(),
    )])
    .await;
    let runs = [
        (
            "eventstore-service",
            stack.eventstore.clone(),
            vec![format!("X-API-Key: {API_KEY}")],
            None,
        ),
        ("command-service", stack.command.clone(), vec![], None),
        (
            "projection-service",
            stack.projection.clone(),
            vec![format!("Authorization: Bearer {PROJECTION_TOKEN}")],
            None,
        ),
        (
            "query-service",
            stack.query.clone(),
            vec![],
            Some(QUERY_CONFIG),
        ),
    ];

    // Act: one run per service, in turn (the machine has two cores).
    let mut failed = Vec::new();
    for (name, base, headers, config) in runs {
        let started = std::time::Instant::now();
        let (passed, output) = fuzz(&base, &headers, config).await;
        println!(
            "===== schemathesis: {name} ({:.0} s) =====\n{output}",
            started.elapsed().as_secs_f64()
        );
        if !passed {
            failed.push(name);
        }
    }

    // Assert
    assert!(
        failed.is_empty(),
        "schemathesis found problems in {failed:?} (output above)"
    );
}
