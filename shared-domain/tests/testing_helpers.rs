//! The test isolation helpers against real servers (`DATABASE_URL`, `REDIS_URL`, or the local
//! defaults). `scripts/test` runs them with `--all-features`.
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use shared_domain::testing::postgres::{BoxError, content_hash, database_url, fresh_database};
use shared_domain::testing::redis::{delete_namespace, fresh_namespace, redis_url};
use shared_domain::testing::{free_port, postgres::TestDatabase};
use tokio_postgres::{Client, NoTls};

const SCHEMA: &str = "CREATE TABLE marker (id int PRIMARY KEY); INSERT INTO marker VALUES (1);";

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

async fn init_schema(url: String) -> Result<(), BoxError> {
    connect(&url).await.batch_execute(SCHEMA).await?;
    Ok(())
}

async fn marker_ids(db: &TestDatabase) -> Vec<i32> {
    let rows = connect(&db.url)
        .await
        .query("SELECT id FROM marker ORDER BY id", &[])
        .await
        .expect("select");
    rows.iter().map(|row| row.get(0)).collect()
}

/// Removes databases (and templates) a test made for itself, so local runs leave nothing behind.
async fn drop_databases(names: &[&str]) {
    let admin = connect(&database_url()).await;
    for name in names {
        // Two statements: DROP DATABASE cannot run inside the implicit transaction of a batch.
        let unmark = format!("ALTER DATABASE \"{name}\" WITH IS_TEMPLATE false");
        admin.batch_execute(&unmark).await.expect("unmark template");
        let drop = format!("DROP DATABASE \"{name}\" WITH (FORCE)");
        admin.batch_execute(&drop).await.expect("drop database");
    }
}

#[tokio::test]
async fn fresh_databases_are_distinct_clones_of_the_template() {
    let template_id = format!("testing_helpers_{}", content_hash(&[SCHEMA]));

    let (a, b) = tokio::join!(
        fresh_database(&template_id, init_schema),
        fresh_database(&template_id, init_schema)
    );
    connect(&a.url)
        .await
        .batch_execute("INSERT INTO marker VALUES (2)")
        .await
        .expect("insert");

    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);
    assert_eq!(marker_ids(&a).await, vec![1, 2]);
    assert_eq!(
        marker_ids(&b).await,
        vec![1],
        "a write to one database shows in the other"
    );
    drop_databases(&[&a.name, &b.name]).await;
}

#[tokio::test]
async fn concurrent_callers_build_the_template_once() {
    let template_id = format!("testing_helpers_once_{}", uuid::Uuid::new_v4().simple());
    let builds = Arc::new(AtomicUsize::new(0));

    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (template_id, builds) = (template_id.clone(), builds.clone());
        tasks.push(tokio::spawn(async move {
            fresh_database(&template_id, |url| async move {
                builds.fetch_add(1, Ordering::SeqCst);
                init_schema(url).await
            })
            .await
        }));
    }
    let mut databases = Vec::new();
    for task in tasks {
        databases.push(task.await.expect("fresh_database"));
    }

    assert_eq!(builds.load(Ordering::SeqCst), 1);
    for db in &databases {
        assert_eq!(marker_ids(db).await, vec![1]);
    }
    let mut names: Vec<&str> = databases.iter().map(|db| db.name.as_str()).collect();
    let template = format!("tpl_{template_id}");
    names.push(&template);
    drop_databases(&names).await;
}

#[tokio::test]
async fn a_failed_template_build_is_retried_by_the_next_caller() {
    let template_id = format!("testing_helpers_fail_{}", uuid::Uuid::new_v4().simple());
    let failing = tokio::spawn({
        let template_id = template_id.clone();
        async move {
            fresh_database(&template_id, |url| async move {
                connect(&url)
                    .await
                    .batch_execute("CREATE TABLE half_built (id int)")
                    .await?;
                Err::<(), BoxError>("migration 2 failed".into())
            })
            .await
        }
    });
    assert!(
        failing
            .await
            .expect_err("a failed init fails the test")
            .is_panic()
    );

    let db = fresh_database(&template_id, init_schema).await;

    assert_eq!(marker_ids(&db).await, vec![1]);
    let tables = connect(&db.url)
        .await
        .query(
            "SELECT 1 FROM pg_tables WHERE tablename = 'half_built'",
            &[],
        )
        .await
        .expect("select");
    assert!(tables.is_empty(), "the half-built template was reused");
    drop_databases(&[&db.name, &format!("tpl_{template_id}")]).await;
}

#[tokio::test]
async fn fresh_namespaces_differ() {
    let (a, b) = (fresh_namespace(), fresh_namespace());

    assert_ne!(a, b);
    assert!(
        a.starts_with('t') && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "{a}"
    );
}

#[tokio::test]
async fn delete_namespace_removes_only_that_namespaces_keys() {
    let (mine, other) = (fresh_namespace(), fresh_namespace());
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis");
    for key in [
        format!("{mine}:a"),
        format!("{{{mine}}}:b"),
        format!("{other}:a"),
    ] {
        redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .exec_async(&mut redis)
            .await
            .expect("set");
    }

    delete_namespace(&redis_url(), &mine)
        .await
        .expect("delete namespace");

    let exists = |key: String| {
        let mut redis = redis.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<u32>(&mut redis)
                .await
                .expect("exists")
        }
    };
    assert_eq!(exists(format!("{mine}:a")).await, 0);
    assert_eq!(exists(format!("{{{mine}}}:b")).await, 0);
    assert_eq!(exists(format!("{other}:a")).await, 1);
    delete_namespace(&redis_url(), &other)
        .await
        .expect("delete namespace");
}

#[test]
fn free_port_can_be_bound() {
    let port = free_port();

    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
}
