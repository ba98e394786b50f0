//! Keeps a [`SummaryCache`] current: one RESP3 connection with
//! `CLIENT TRACKING ON BCAST PREFIX <namespace tag>:`, whose invalidation pushes drop entries
//! as they arrive (inside the connection's read loop, no channel hop). The cache is on only
//! while that connection is up and answering; on any loss it goes off (and empty), and the loop
//! connects again with backoff.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ProtocolVersion, PushInfo, PushKind, Value};
use shared_domain::read_model::ReadModelKeys;
use shared_domain::service::Shutdown;
use tokio::sync::Notify;

use super::cache::SummaryCache;
use super::templates::Templates;
use prometheus::IntGauge;

/// Longest pause between attempts to connect.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);
/// How often the tracking connection is checked with `PING`: a connection that stops answering
/// (a network partition without a reset) turns the cache off within this plus the time-out.
const PING_EVERY: Duration = Duration::from_millis(500);
/// The tracking connection's name in `CLIENT LIST`: `query-cache:{<namespace>}`.
pub fn client_name(keys: &ReadModelKeys) -> String {
    format!("query-cache:{}", keys.tag())
}

/// What an invalidation push means for the cache.
pub(super) struct Invalidations {
    cache: Arc<SummaryCache>,
    templates: Arc<Templates>,
    pointer: String,
    /// The namespace's key prefix: what is tracked.
    prefix: String,
    name: String,
}

impl Invalidations {
    pub(super) fn new(
        cache: Arc<SummaryCache>,
        keys: &ReadModelKeys,
        templates: Arc<Templates>,
    ) -> Self {
        Self {
            cache,
            templates,
            pointer: keys.generation_pointer(),
            prefix: format!("{}:", keys.tag()),
            name: client_name(keys),
        }
    }

    /// Applies one push's data: `[keys]`, or `[nil]` after a flush.
    fn apply(&self, data: &[Value]) {
        match data.first() {
            Some(Value::Array(keys)) => keys.iter().for_each(|key| self.key(key)),
            _ => self.cache.clear(),
        }
    }

    fn key(&self, key: &Value) {
        let Value::BulkString(bytes) = key else {
            return self.cache.clear();
        };
        let Ok(key) = std::str::from_utf8(bytes) else {
            return;
        };
        if key == self.pointer {
            self.cache.clear();
        } else if let Some((_generation, order_id)) = self.templates.summary.parse(key) {
            self.cache.invalidate(order_id);
        } else if let Some(index) = self.templates.index_of(key) {
            self.cache.invalidate_index(index);
        }
    }
}

/// Runs until `stop`: connect, track, keep the cache on while the connection lasts.
pub(super) async fn run(
    client: Client,
    invalidations: Invalidations,
    timeout: Duration,
    up: IntGauge,
    stop: Shutdown,
) {
    let invalidations = Arc::new(invalidations);
    let prefix = invalidations.prefix.clone();
    let cache = invalidations.cache.clone();
    let mut delay = Duration::from_millis(100);
    let mut failures = 0_u32;
    loop {
        let lost = Arc::new(Notify::new());
        let tracked = tokio::select! {
            tracked = connect(&client, &invalidations, &lost, timeout) => tracked,
            () = stop.cancelled() => return,
        };
        match tracked {
            Ok(connection) => {
                failures = 0;
                cache.set_live(true);
                up.set(1);
                delay = Duration::from_millis(100);
                tracing::info!(%prefix, "query cache on: tracking changes");
                let ended = tokio::select! {
                    () = keep_alive(connection, timeout) => "stopped answering",
                    () = lost.notified() => "was closed",
                    () = stop.cancelled() => "",
                };
                cache.set_live(false);
                up.set(0);
                if ended.is_empty() {
                    return;
                }
                tracing::warn!("query cache off: the tracking connection {ended}; reconnecting");
            }
            // The first failure in a row is a warning; the retries after it (a Redis that
            // refuses `CLIENT TRACKING` for good, say) would repeat it every few seconds.
            Err(error) if failures == 0 => {
                failures += 1;
                tracing::warn!(%error, retry_ms = delay.as_millis() as u64, "query cache off: cannot track changes; retrying");
            }
            Err(error) => {
                failures += 1;
                tracing::debug!(%error, failures, retry_ms = delay.as_millis() as u64, "query cache still off");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return,
        }
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}

/// A RESP3 connection whose invalidation pushes reach `invalidations`, tracking `prefix`.
async fn connect(
    client: &Client,
    invalidations: &Arc<Invalidations>,
    lost: &Arc<Notify>,
    timeout: Duration,
) -> Result<MultiplexedConnection, String> {
    let (name, prefix) = (invalidations.name.clone(), invalidations.prefix.clone());
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = Client::open(info.set_redis_settings(settings)).map_err(|e| e.to_string())?;
    let (invalidations, lost) = (invalidations.clone(), lost.clone());
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(move |push: PushInfo| {
            match push.kind {
                PushKind::Invalidate => invalidations.apply(&push.data),
                PushKind::Disconnection => lost.notify_one(),
                _ => {}
            }
            Ok::<(), ()>(())
        });
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| e.to_string())?;
    let mut setup = redis::pipe();
    setup
        .cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .ignore()
        .cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(prefix)
        .ignore();
    let setup = setup.query_async::<()>(&mut connection);
    match tokio::time::timeout(timeout, setup).await {
        Ok(Ok(())) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// `PING`s every [`PING_EVERY`]; returns when one fails or times out.
async fn keep_alive(mut connection: MultiplexedConnection, timeout: Duration) {
    loop {
        tokio::time::sleep(PING_EVERY).await;
        let ping = redis::cmd("PING");
        match tokio::time::timeout(timeout, ping.query_async::<Value>(&mut connection)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, "tracking connection PING failed");
                return;
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Cursor;
    use crate::store::cache::Summary;
    use crate::store::page_cache::PageAt;
    use crate::store::templates::Templates;
    use crate::store::{Page, PageEntry, Read};
    use shared_domain::orders::OrderStatus;

    fn at(index: &str) -> PageAt<'_> {
        PageAt {
            index,
            after: None,
            limit: 5,
        }
    }

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn pushes_drop_the_named_orders_or_everything() {
        let keys = ReadModelKeys::new("shop");
        let cache = Arc::new(SummaryCache::new(100, None).with_pages(1 << 20));
        cache.set_live(true);
        let templates = Arc::new(Templates::new(&keys));
        let fill = |id: &str| {
            let summary = Summary {
                revision: 1,
                json: "{}".into(),
            };
            cache.store(&cache.ticket(), id, "g0", 1, summary);
        };
        let invalidations = Invalidations::new(cache.clone(), &keys, templates.clone());
        // A page of one order (o-2) in each of two indexes.
        let pending = templates.status(OrderStatus::Pending).rest();
        let all = templates.all_orders.rest();
        let fill_pages = || {
            let read = Read {
                generation: "g0".to_owned(),
                checkpoint: 1,
                value: Page {
                    entries: vec![PageEntry {
                        position: Cursor {
                            score: 1,
                            order_id: "o-2".to_owned(),
                        },
                        summary: Some(Summary {
                            revision: 1,
                            json: "{}".into(),
                        }),
                    }],
                    has_more: false,
                },
            };
            let rendered = std::sync::Arc::new(read.value.render("g0"));
            for index in [all, pending] {
                cache.store_page(&cache.page_ticket(), &at(index), &read, &rendered);
            }
        };
        fill("o:1");
        fill("o-2");
        fill_pages();
        assert!(cache.page(&at(all), 0).is_some());
        let g0 = keys.generation("g0");
        invalidations.apply(&[Value::Array(vec![
            bulk(&g0.order_summary("o:1")),
            bulk(&g0.checkpoint()),
            bulk(&g0.analytics()),
        ])]);
        assert!(cache.order("o:1", 0).is_none());
        assert!(cache.order("o-2", 0).is_some(), "other keys drop nothing");
        assert!(cache.page(&at(all), 0).is_some(), "nor pages");
        // An index's change drops its pages, not the orders on them or other indexes' pages.
        invalidations.apply(&[Value::Array(vec![bulk(&g0.all_orders())])]);
        assert!(cache.page(&at(all), 0).is_none());
        assert!(cache.page(&at(pending), 0).is_some());
        assert!(cache.order("o-2", 0).is_some());
        // A summary's change leaves its pages held, but no longer answerable.
        invalidations.apply(&[Value::Array(vec![bulk(&g0.order_summary("o-2"))])]);
        assert!(cache.page(&at(pending), 0).is_none());
        fill("o-2");
        assert!(
            cache.page(&at(pending), 0).is_some(),
            "the same revision again"
        );
        // Another generation's copy of the order (a rebuild writing) drops it too.
        fill("o:1");
        invalidations.apply(&[Value::Array(vec![bulk(
            &keys.generation("g7").order_summary("o:1"),
        )])]);
        assert!(cache.order("o:1", 0).is_none());
        // The generation pointer (a switch) and a flush drop everything.
        fill("o:1");
        fill_pages();
        invalidations.apply(&[Value::Array(vec![bulk(&keys.generation_pointer())])]);
        assert!(cache.is_empty());
        fill("o-2");
        assert!(cache.page(&at(pending), 0).is_none(), "pages went too");
        fill_pages();
        invalidations.apply(&[Value::Nil]);
        assert!(cache.is_empty());
        fill("o-2");
        assert!(cache.page(&at(pending), 0).is_none());
    }
}
