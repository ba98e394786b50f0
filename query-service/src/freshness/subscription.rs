//! The background side of [`CheckpointWatch`]: one pub/sub subscription to the projection's
//! checkpoint channel (re-subscribing with backoff, re-reading after each subscription), and the
//! safety re-read while anyone waits.

use std::time::Duration;

use futures_util::StreamExt;
use redis::Client;
use shared_domain::service::Shutdown;

use super::CheckpointWatch;
use crate::store::ReadModelStore;

/// Longest pause between attempts to re-subscribe.
const MAX_RESUBSCRIBE_DELAY: Duration = Duration::from_secs(5);

impl CheckpointWatch {
    /// Re-reads the live generation and its checkpoint.
    async fn refresh(&self, store: &ReadModelStore) {
        match store.checkpoint().await {
            Ok(read) => self.observe_read(&read),
            Err(error) => tracing::debug!(%error, "cannot re-read the checkpoint"),
        }
    }

    /// Handles one message of the checkpoint channel.
    async fn on_message(&self, payload: &str, store: &ReadModelStore) {
        let Some((generation, position)) = parse_message(payload) else {
            tracing::debug!(payload, "ignoring a malformed checkpoint message");
            return;
        };
        if self.is_live(generation) {
            self.observe(position);
        } else if position > self.latest() {
            // A switch to a new generation, or one we have not read yet: learn which is live.
            self.refresh(store).await;
        }
    }

    /// Starts the background tasks that keep the watch current: the pub/sub subscription on
    /// `channel` and the safety re-read every `resync` while anyone waits. Both stop on `stop`.
    pub fn spawn(
        &self,
        client: Client,
        channel: String,
        store: ReadModelStore,
        resync: Duration,
        stop: Shutdown,
    ) {
        let watch = self.clone();
        let (store2, stop2) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = watch.subscription_loop(client, channel, store2) => {}
                () = stop2.cancelled() => {}
            }
            watch.inner.metrics.subscription_up.set(0);
        });
        let watch = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(resync);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        if watch.waiting() > 0 {
                            watch.refresh(&store).await;
                        }
                    }
                    () = stop.cancelled() => return,
                }
            }
        });
    }

    /// Subscribes, re-reads, follows messages; on any loss, waits and starts again. Never ends.
    async fn subscription_loop(&self, client: Client, channel: String, store: ReadModelStore) {
        let metrics = &self.inner.metrics;
        let mut delay = Duration::from_millis(100);
        loop {
            let subscribed = async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let pubsub = match tokio::time::timeout(store.timeout(), subscribed).await {
                Ok(Ok(pubsub)) => pubsub,
                Ok(Err(error)) => {
                    tracing::warn!(%error, retry_ms = delay.as_millis() as u64, "cannot subscribe to checkpoint notifications");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RESUBSCRIBE_DELAY);
                    continue;
                }
                Err(_) => {
                    tracing::warn!(
                        retry_ms = delay.as_millis() as u64,
                        "subscribing to checkpoint notifications timed out"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RESUBSCRIBE_DELAY);
                    continue;
                }
            };
            metrics.subscription_up.set(1);
            delay = Duration::from_millis(100);
            tracing::info!(%channel, "subscribed to checkpoint notifications");
            self.refresh(&store).await;
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                match message.get_payload::<String>() {
                    Ok(payload) => self.on_message(&payload, &store).await,
                    Err(error) => tracing::debug!(%error, "ignoring a non-text checkpoint message"),
                }
            }
            metrics.subscription_up.set(0);
            tracing::warn!("checkpoint notifications lost; re-subscribing");
        }
    }
}

/// `"<generation> <position>"` → its parts.
pub(super) fn parse_message(payload: &str) -> Option<(&str, u64)> {
    let (generation, position) = payload.trim().split_once(' ')?;
    Some((generation, position.trim().parse().ok()?))
}
