//! Shared test set-up: a fresh Redis namespace per test, a projector on it, and a dump of the
//! read models for comparing two runs.

use std::collections::BTreeMap;

use projection_service::projector::Projector;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use shared_domain::read_model::{ReadModelKeys, generation_or_default};
use shared_domain::testing::redis::{delete_namespace, fresh_namespace, redis_url};

/// One test's Redis namespace on the shared server.
pub struct TestRedis {
    pub url: String,
    pub namespace: String,
    pub keys: ReadModelKeys,
    pub conn: ConnectionManager,
}

impl TestRedis {
    pub async fn new() -> Self {
        Self::at(&redis_url()).await
    }

    /// A fresh namespace on the server at `url`.
    pub async fn at(url: &str) -> Self {
        Self::with_namespace(url, &fresh_namespace()).await
    }

    /// Namespace `namespace` on the server at `url` (a second view of another test's keys).
    pub async fn with_namespace(url: &str, namespace: &str) -> Self {
        let url = url.to_owned();
        let namespace = namespace.to_owned();
        let client = redis::Client::open(url.as_str()).expect("valid REDIS_URL");
        // Generous time-outs: the suite runs many Redis-heavy tests at once on two cores, and
        // redis-rs's default 500 ms response time-out then fails tests that are not about it.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .expect("the test Redis is reachable");
        Self {
            keys: ReadModelKeys::new(&namespace),
            url,
            namespace,
            conn,
        }
    }

    /// A projector on this namespace.
    pub fn projector(&self) -> Projector {
        Projector::new(self.conn.clone(), self.keys.clone())
    }

    /// The live generation's read models, with key names stripped of namespace and
    /// generation, so that two namespaces (or two generations) compare equal when their read
    /// models are.
    pub async fn dump(&self) -> BTreeMap<String, String> {
        let mut conn = self.fresh_connection().await;
        let pointer: Option<String> = redis::cmd("GET")
            .arg(self.keys.generation_pointer())
            .query_async(&mut conn)
            .await
            .unwrap();
        self.dump_generation(&generation_or_default(pointer)).await
    }

    /// One generation's read models (see [`Self::dump`]).
    pub async fn dump_generation(&self, generation: &str) -> BTreeMap<String, String> {
        // A fresh connection: the shared one may have seen the server restart.
        let mut conn = self.fresh_connection().await;
        let generation_keys = self.keys.generation(generation);
        let prefix = generation_keys.prefix().to_owned();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(generation_keys.pattern())
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut dump = BTreeMap::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            let value = match kind.as_str() {
                "string" => redis::cmd("GET")
                    .arg(&key)
                    .query_async::<String>(&mut conn)
                    .await
                    .unwrap(),
                "hash" => {
                    let hash: BTreeMap<String, String> = redis::cmd("HGETALL")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    format!("{hash:?}")
                }
                "zset" => {
                    let members: Vec<(String, String)> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    format!("{members:?}")
                }
                other => panic!("unexpected {other} at {key}"),
            };
            dump.insert(key[prefix.len()..].to_owned(), value);
        }
        dump
    }

    async fn fresh_connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    pub async fn cleanup(self) {
        delete_namespace(&self.url, &self.namespace).await.unwrap();
    }
}
