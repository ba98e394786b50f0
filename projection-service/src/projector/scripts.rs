//! The Lua scripts, and running pipelines of them with `EVALSHA` (loading them again when the
//! server forgot them, e.g. after a restart).

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{ErrorKind, FromRedisValue, Pipeline, RedisResult, Script, ServerErrorKind};

/// Applies one event to one generation (`lua/apply_event.lua`).
pub(crate) static APPLY_EVENT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/apply_event.lua")));

/// Moves a generation's checkpoint forward and announces it (`lua/advance_checkpoint.lua`).
pub(crate) static ADVANCE_CHECKPOINT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/advance_checkpoint.lua")));

/// Runs `pipe`, whose commands invoke `scripts` by hash; when the server answers `NOSCRIPT`,
/// loads them and runs the pipeline once more. Safe because every script here is idempotent.
pub(crate) async fn query_with_scripts<T: FromRedisValue>(
    redis: &ConnectionManager,
    pipe: &Pipeline,
    scripts: &[&Script],
) -> RedisResult<T> {
    let mut conn = redis.clone();
    match pipe.query_async(&mut conn).await {
        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            let mut load = redis::pipe();
            for script in scripts {
                load.load_script(script);
            }
            load.query_async::<()>(&mut conn).await?;
            pipe.query_async(&mut conn).await
        }
        other => other,
    }
}
