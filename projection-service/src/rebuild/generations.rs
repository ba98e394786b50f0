//! The Redis side of a rebuild: the lease that lets one rebuild run at a time, naming a fresh
//! generation, the guarded pointer switch, the progress record and deleting old generations.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult, Script};
use shared_domain::read_model::{ReadModelKeys, generation_or_default};

use crate::projector::scripts::query_with_scripts;

static SWITCH_GENERATION: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/switch_generation.lua")));
static RENEW_LOCK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/renew_lock.lua")));
static RELEASE_LOCK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/release_lock.lua")));

/// How many keys one `SCAN`/`UNLINK` step handles when deleting a generation.
const DELETE_BATCH: usize = 1000;

/// What a switch attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// The new generation is live.
    Done,
    /// The live generation holds an event the new one does not have yet: read further.
    NotYet,
    /// The pointer is no longer the generation the rebuild started from.
    PointerMoved,
}

/// Redis operations of one namespace's rebuilds.
#[derive(Clone)]
pub(crate) struct Generations {
    redis: ConnectionManager,
    keys: ReadModelKeys,
}

impl Generations {
    pub fn new(redis: ConnectionManager, keys: ReadModelKeys) -> Self {
        Self { redis, keys }
    }

    /// Takes the rebuild lease for `lease` unless another rebuild holds it.
    pub async fn try_lock(&self, token: &str, lease: Duration) -> RedisResult<bool> {
        let mut conn = self.redis.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.rebuild_lock())
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }

    /// Extends the lease; `false` when it was lost (expired and taken, or deleted).
    pub async fn renew_lock(&self, token: &str, lease: Duration) -> RedisResult<bool> {
        let mut pipe = redis::pipe();
        pipe.invoke_script(
            RENEW_LOCK
                .key(self.keys.rebuild_lock())
                .arg(token)
                .arg(lease.as_millis() as u64),
        );
        let (held,): (i64,) = query_with_scripts(&self.redis, &pipe, &[&RENEW_LOCK]).await?;
        Ok(held == 1)
    }

    /// Gives the lease back if still held.
    pub async fn release_lock(&self, token: &str) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.invoke_script(RELEASE_LOCK.key(self.keys.rebuild_lock()).arg(token));
        query_with_scripts::<(i64,)>(&self.redis, &pipe, &[&RELEASE_LOCK]).await?;
        Ok(())
    }

    /// The live generation.
    pub async fn live(&self) -> RedisResult<String> {
        let mut conn = self.redis.clone();
        let pointer: Option<String> = conn.get(self.keys.generation_pointer()).await?;
        Ok(generation_or_default(pointer))
    }

    /// Names a generation that does not exist yet and records it in the generations set.
    pub async fn create(&self, live: &str) -> RedisResult<String> {
        let mut conn = self.redis.clone();
        loop {
            let n: u64 = conn.incr(self.keys.generation_sequence(), 1).await?;
            let name = format!("g{n}");
            let known: bool = conn.sismember(self.keys.generations(), &name).await?;
            if name != live && !known {
                let _: () = conn
                    .sadd(self.keys.generations(), &[live, name.as_str()])
                    .await?;
                return Ok(name);
            }
        }
    }

    /// Deletes every generation but the live one and `keep` (left over by rebuilds that died,
    /// or replaced ones whose grace period is over).
    pub async fn delete_stale(&self, live: &str, keep: Option<&str>) -> RedisResult<()> {
        let mut conn = self.redis.clone();
        let known: Vec<String> = conn.smembers(self.keys.generations()).await?;
        for generation in known {
            if generation != live && Some(generation.as_str()) != keep {
                self.delete(&generation).await?;
            }
        }
        Ok(())
    }

    /// Deletes one generation's keys (SCAN + UNLINK: never blocks the server) and forgets it.
    pub async fn delete(&self, generation: &str) -> RedisResult<()> {
        let mut conn = self.redis.clone();
        let pattern = self.keys.generation(generation).pattern();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(DELETE_BATCH)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let _: () = conn.unlink(keys).await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let _: () = conn.srem(self.keys.generations(), generation).await?;
        Ok(())
    }

    /// Makes `new` live if nothing applied to `from` is missing from it.
    pub async fn switch(&self, from: &str, new: &str) -> RedisResult<Switch> {
        let mut pipe = redis::pipe();
        pipe.invoke_script(
            SWITCH_GENERATION
                .key(self.keys.generation_pointer())
                .key(self.keys.generation(new).checkpoint())
                .key(self.keys.generation(from).high_water())
                .key(self.keys.generation(new).high_water())
                .arg(from)
                .arg(new)
                .arg(self.keys.checkpoint_channel()),
        );
        let (outcome,): (i64,) =
            query_with_scripts(&self.redis, &pipe, &[&SWITCH_GENERATION]).await?;
        Ok(match outcome {
            1 => Switch::Done,
            0 => Switch::NotYet,
            _ => Switch::PointerMoved,
        })
    }

    /// Replaces the progress record with `fields`.
    pub async fn reset_status(&self, fields: &[(&str, String)]) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.del(self.keys.rebuild_status())
            .hset_multiple(self.keys.rebuild_status(), fields);
        let mut conn = self.redis.clone();
        pipe.query_async(&mut conn).await
    }

    /// Updates fields of the progress record.
    pub async fn update_status(&self, fields: &[(&str, String)]) -> RedisResult<()> {
        let mut conn = self.redis.clone();
        conn.hset_multiple(self.keys.rebuild_status(), fields).await
    }

    /// The progress record (empty when no rebuild ever ran).
    pub async fn status(&self) -> RedisResult<HashMap<String, String>> {
        let mut conn = self.redis.clone();
        conn.hgetall(self.keys.rebuild_status()).await
    }
}
