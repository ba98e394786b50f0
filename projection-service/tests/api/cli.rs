//! The binary: `rebuild` subcommand, `healthcheck`, `--help`, refusing to serve without a token.

use std::process::Command;

use redis::AsyncCommands;

use crate::app::spawn_app;
use crate::events::histories;
use crate::helpers::TestRedis;
use crate::store_stub::StoreStub;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_projection-service"));
    command.env_clear().env("RUST_LOG", "warn");
    command
}

#[tokio::test]
async fn the_rebuild_subcommand_rebuilds_and_switches() {
    let events = histories(40, 41, 1);
    let stub = StoreStub::start(events.clone()).await;
    let redis = TestRedis::new().await;
    let (url, namespace, store) = (redis.url.clone(), redis.namespace.clone(), stub.url.clone());

    let output = tokio::task::spawn_blocking(move || {
        binary()
            .arg("rebuild")
            .env("REDIS_URL", url)
            .env("READ_MODEL_NAMESPACE", namespace)
            .env("EVENTSTORE_URL", store)
            .env("PROJECTION_OLD_GENERATION_GRACE_MS", "0")
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert!(output.status.success(), "{output:?}");
    let mut conn = redis.conn.clone();
    let pointer: String = conn.get(redis.keys.generation_pointer()).await.unwrap();
    assert_eq!(pointer, "g1");
    let expected = TestRedis::new().await;
    expected.projector().apply(&events).await.unwrap();
    assert_eq!(redis.dump().await, expected.dump().await);
    redis.cleanup().await;
    expected.cleanup().await;
    stub.stop().await;
}

#[tokio::test]
async fn healthcheck_exits_0_when_the_service_is_live_and_1_otherwise() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let closed = shared_domain::testing::free_port().to_string();

    let (live, dead) = tokio::task::spawn_blocking(move || {
        let live = binary()
            .arg("healthcheck")
            .env("PORT", port)
            .status()
            .unwrap();
        let dead = binary()
            .arg("healthcheck")
            .env("PORT", closed)
            .output()
            .unwrap();
        (live, dead)
    })
    .await
    .unwrap();

    assert!(live.success());
    assert_eq!(dead.status.code(), Some(1));
    app.stop().await;
}

#[test]
fn help_lists_the_environment_variables() {
    let output = binary().arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for name in [
        "PROJECTION_AUTH_TOKEN",
        "PROJECTION_WEBHOOK_SECRET",
        "PROJECTION_ADMIN_TOKEN",
        "REDIS_URL",
        "EVENTSTORE_URL",
        "EVENTSTORE_API_KEY",
        "PORT",
    ] {
        assert!(help.contains(name), "{name} missing from --help");
    }
    for subcommand in ["serve", "rebuild", "healthcheck"] {
        assert!(help.contains(subcommand), "{subcommand} missing");
    }
}

#[test]
fn serve_refuses_to_start_without_a_token_or_with_a_bad_setting() {
    let no_token = binary().env("PORT", "0").output().unwrap();
    let bad_port = binary().env("PORT", "eighty").output().unwrap();

    assert!(!no_token.status.success());
    assert!(
        String::from_utf8_lossy(&no_token.stdout).contains("PROJECTION_AUTH_TOKEN"),
        "{no_token:?}"
    );
    assert_eq!(bad_port.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_port.stderr).contains("PORT"));
}
