//! A fresh Redis key namespace per test.
//!
//! Tests share one Redis server (and its database 0); each one puts its keys under a namespace of
//! its own, `<ns>:…` or, where keys must share a cluster slot, `{<ns>}:…`.

/// Used when `REDIS_URL` is not set: the local server `scripts/test` also looks for.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How many keys one `SCAN` step asks for.
const SCAN_COUNT: usize = 500;

/// The Redis server tests use: `REDIS_URL`, or [`DEFAULT_REDIS_URL`].
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// A namespace no other call returns: `t<TEST_RUN_ID or local>-<8 random hex>`, so that the test
/// command can also delete a whole run's keys by prefix.
pub fn fresh_namespace() -> String {
    format!("t{}-{}", super::run_id(), super::short_uuid(8))
}

/// Deletes every key of namespace `ns` (`<ns>:*` and `{<ns>}:*`) on the server at `url`.
///
/// Walks the keyspace with `SCAN MATCH` (never `KEYS`, which blocks the server) and unlinks in
/// batches. Keys written while it runs may survive.
pub async fn delete_namespace(url: &str, ns: &str) -> Result<(), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let ns = escape_glob(ns);
    for pattern in [format!("{ns}:*"), format!("{{{ns}}}:*")] {
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut connection)
                .await?;
            if !keys.is_empty() {
                redis::cmd("UNLINK")
                    .arg(&keys)
                    .exec_async(&mut connection)
                    .await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(())
}

/// Escapes the characters that `SCAN MATCH` treats as a glob.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(escape_glob("tlocal-1a2b3c4d"), "tlocal-1a2b3c4d");
    }
}
