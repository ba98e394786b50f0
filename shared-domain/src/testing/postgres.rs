//! A fresh PostgreSQL database per test, cloned from a template built once per schema.
//!
//! Building the schema (running migrations) once and cloning it with `CREATE DATABASE … TEMPLATE`
//! is much faster than migrating a new database in every test. nextest runs each test in its own
//! process, so "once" is enforced by the server: a session advisory lock keyed by the template's
//! name, held while the template is built. A template counts as built only once it is marked
//! `IS_TEMPLATE`; a half-built one (its `init` failed or its process died) is dropped and rebuilt.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// The error an `init` function may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Used when `DATABASE_URL` is not set: the local server `scripts/test` also looks for.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How often a clone is retried while the template is still in use (connections that `init`
/// opened close asynchronously), and how long to wait between tries.
const CLONE_ATTEMPTS: u32 = 100;
const CLONE_RETRY_DELAY: Duration = Duration::from_millis(50);

/// A database that belongs to one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// Connection URL of this database (the server of `DATABASE_URL`, another database name).
    pub url: String,
    /// Its name, `t_<TEST_RUN_ID or local>_<unix seconds>_<random>`: `scripts/test` drops a run's
    /// databases by prefix, and leftovers of killed runs or plain `cargo test` by age.
    pub name: String,
}

/// The server that test databases are created on: `DATABASE_URL`, or [`DEFAULT_DATABASE_URL`].
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// Creates a database for one test, cloned from the template `tpl_<template_id>`.
///
/// The template is created on first use, by any process, and `init` is called with its URL to
/// fill it (run migrations, load fixtures). Make `template_id` change whenever what `init` does
/// changes, e.g. `format!("eventstore_{}", content_hash(&MIGRATIONS))`: a stale template is
/// never rebuilt under the same id.
///
/// Panics (failing the test) when the server cannot be reached or `init` fails.
pub async fn fresh_database<F, Fut>(template_id: &str, init: F) -> TestDatabase
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let server = database_url();
    try_fresh_database(&server, template_id, init)
        .await
        .unwrap_or_else(|e| panic!("cannot create a test database on {server}: {e}"))
}

/// A stable 64-bit FNV-1a hash of `parts`, as 16 hex characters, for template ids.
///
/// Each part is hashed with its length, so `["ab", "c"]` and `["a", "bc"]` differ.
pub fn content_hash(parts: &[&str]) -> String {
    format!("{:016x}", fnv1a(parts))
}

fn fnv1a(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        let len = part.len() as u64;
        for byte in len.to_le_bytes().iter().chain(part.as_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

async fn try_fresh_database<F, Fut>(
    server: &str,
    template_id: &str,
    init: F,
) -> Result<TestDatabase, BoxError>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let admin = connect(server).await?;
    let template = template_name(template_id);
    ensure_template(&admin, server, &template, init).await?;

    let name = database_name(&super::run_id(), SystemTime::now());
    clone_database(&admin, &template, &name).await?;
    Ok(TestDatabase {
        url: with_database(server, &name),
        name,
    })
}

/// Builds the template unless a complete one exists, holding an advisory lock meanwhile.
async fn ensure_template<F, Fut>(
    admin: &Client,
    server: &str,
    template: &str,
    init: F,
) -> Result<(), BoxError>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    // Cheap path, without the lock: the template is usually there already.
    if template_state(admin, template).await? == Some(true) {
        return Ok(());
    }
    // The key is bit-cast from a hash; any i64 is a valid key.
    let key = fnv1a(&["fresh_database", template]) as i64;
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await?;
    let built = build_template_if_missing(admin, server, template, init).await;
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await?;
    built
}

async fn build_template_if_missing<F, Fut>(
    admin: &Client,
    server: &str,
    template: &str,
    init: F,
) -> Result<(), BoxError>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    match template_state(admin, template).await? {
        Some(true) => return Ok(()),
        // Left half-built by a failed or killed build: start again.
        Some(false) => {
            admin
                .batch_execute(&format!("DROP DATABASE \"{template}\" WITH (FORCE)"))
                .await?
        }
        None => {}
    }
    create_database(admin, &format!("CREATE DATABASE \"{template}\"")).await?;
    init(with_database(server, template))
        .await
        .map_err(|e| format!("building template {template} failed: {e}"))?;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{template}\" WITH IS_TEMPLATE true"
        ))
        .await?;
    Ok(())
}

/// `None`: no such database; `Some(complete)`: it exists, and is complete once marked a template.
async fn template_state(admin: &Client, template: &str) -> Result<Option<bool>, BoxError> {
    let row = admin
        .query_opt(
            "SELECT datistemplate FROM pg_database WHERE datname = $1",
            &[&template],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

async fn clone_database(admin: &Client, template: &str, name: &str) -> Result<(), BoxError> {
    create_database(
        admin,
        &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
    )
    .await
}

/// Runs a `CREATE DATABASE`, retrying while its source is in use: PostgreSQL refuses to copy a
/// database that has other sessions ("source database … is being accessed by other users").
async fn create_database(admin: &Client, statement: &str) -> Result<(), BoxError> {
    let mut attempt = 1;
    loop {
        match admin.batch_execute(statement).await {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) && attempt < CLONE_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(CLONE_RETRY_DELAY).await;
            }
            Err(e) => return Err(format!("{statement}: {e}").into()),
        }
    }
}

async fn connect(url: &str) -> Result<Client, BoxError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; an error then is of no interest.
        let _ = connection.await;
    });
    Ok(client)
}

/// `t_<run id>_<unix seconds, 10 digits>_<8 random hex>`; `scripts/test` relies on this shape.
fn database_name(run_id: &str, now: SystemTime) -> String {
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    format!("t_{run_id}_{seconds:010}_{}", super::short_uuid(8))
}

/// `tpl_<template_id>` made a valid identifier: lowercase `[a-z0-9_]`, within PostgreSQL's 63 bytes
/// (a long id keeps its start and gets a hash of the whole in place of the rest).
fn template_name(template_id: &str) -> String {
    let clean: String = template_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("tpl_{clean}");
    if name.len() <= 63 {
        return name;
    }
    format!("{}_{}", &name[..46], content_hash(&[template_id]))
}

/// `url` with its database replaced by `database`; both URL and `key=value` forms are accepted.
fn with_database(url: &str, database: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // key=value form: a later `dbname` overrides an earlier one.
        return format!("{url} dbname={database}");
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let path_start = rest
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let query_start = url[path_start..]
        .find('?')
        .map_or(url.len(), |i| path_start + i);
    format!("{}/{}{}", &url[..path_start], database, &url[query_start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_stable_and_respects_part_boundaries() {
        assert_eq!(content_hash(&[]), "cbf29ce484222325");
        assert_eq!(content_hash(&["ab", "c"]), content_hash(&["ab", "c"]));
        assert_ne!(content_hash(&["ab", "c"]), content_hash(&["a", "bc"]));
        assert_eq!(content_hash(&["x"]).len(), 16);
    }

    #[test]
    fn with_database_replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t_1"),
            "postgres://u@h:5432/t_1"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "t_1"),
            "postgres://u@h/t_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "t_1"),
            "postgres://u@h:5432/t_1"
        );
        assert_eq!(
            with_database("postgres://u@h?x=1", "t_1"),
            "postgres://u@h/t_1?x=1"
        );
        assert_eq!(
            with_database("host=h user=u", "t_1"),
            "host=h user=u dbname=t_1"
        );
    }

    #[test]
    fn database_names_carry_the_run_and_the_creation_time() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_000_000);

        let name = database_name("r1a2b", at);

        assert!(name.starts_with("t_r1a2b_1795000000_"), "{name}");
        assert_eq!(name.len(), "t_r1a2b_1795000000_".len() + 8);
        assert_ne!(name, database_name("r1a2b", at));
    }

    #[test]
    fn template_names_are_valid_identifiers() {
        assert_eq!(template_name("EventStore-v1.abc"), "tpl_eventstore_v1_abc");
        let long = template_name(&"x".repeat(200));
        assert!(long.len() <= 63 && long.starts_with("tpl_xxx"));
        assert_ne!(long, template_name(&"x".repeat(201)));
    }
}
