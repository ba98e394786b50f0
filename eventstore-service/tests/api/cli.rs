//! The binary's command line: `--help`, `migrate`, `healthcheck`.

use std::process::Command;

use shared_domain::testing::postgres::fresh_database;

use crate::helpers::spawn_app;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eventstore-service"))
}

#[test]
fn help_lists_the_subcommands_and_environment_variables() {
    let output = binary().arg("--help").output().unwrap();

    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    for word in [
        "serve",
        "migrate",
        "healthcheck",
        "DATABASE_URL",
        "PORT",
        "8081",
        "EVENTSTORE_API_KEY",
        "EVENTSTORE_MAX_BODY_BYTES",
        "EVENTSTORE_DB_POOL_SIZE",
    ] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}

#[tokio::test]
async fn healthcheck_exits_0_when_the_service_is_live_and_1_when_not() {
    let app = spawn_app().await;
    let closed = shared_domain::testing::free_port();

    let live = binary()
        .args(["healthcheck", "--port", &app.port.to_string()])
        .status()
        .unwrap();
    let dead = binary()
        .args(["healthcheck", "--port", &closed.to_string()])
        .status()
        .unwrap();

    assert_eq!(live.code(), Some(0));
    assert_eq!(dead.code(), Some(1));
}

#[tokio::test]
async fn migrate_applies_the_schema_and_is_idempotent() {
    let url = fresh_database("empty", |_| async { Ok(()) }).await.url;
    let migrate = || {
        binary()
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .status()
            .unwrap()
    };

    let first = migrate();
    let second = migrate();

    assert!(first.success() && second.success());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in ["event_stores", "events", "idempotency_keys", "streams"] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing: {tables:?}"
        );
    }
}
