//! In-process wake-up signals for delivery workers, fed by PostgreSQL notifications
//! ([`super::listener`]) and by this replica's own REST handlers.
//!
//! One `watch` channel per store holds a counter that moves on every signal: a worker that saw
//! value `n` and waits on `changed()` cannot miss a signal sent in between (unlike `Notify`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Channel of the store's append notifications (`'<store>:<last global position>'`).
pub const APPENDED_CHANNEL: &str = "eventstore_appended";
/// Channel of subscription changes (`'<store>:<subscription id>'`): created, changed, paused,
/// resumed, reset, deleted.
pub const SUBSCRIPTIONS_CHANNEL: &str = "eventstore_subscriptions";

/// The signals of every store. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Wakeups {
    stores: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
    /// Moves when any subscription anywhere changes (the supervisor watches it).
    any: Arc<watch::Sender<u64>>,
}

impl Wakeups {
    pub fn new() -> Self {
        Self::default()
    }

    fn sender(&self, store: &str) -> watch::Sender<u64> {
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        stores
            .entry(store.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .clone()
    }

    /// A receiver that changes whenever `store` is signalled.
    pub fn watch_store(&self, store: &str) -> watch::Receiver<u64> {
        self.sender(store).subscribe()
    }

    /// A receiver that changes whenever a subscription changes.
    pub fn watch_subscriptions(&self) -> watch::Receiver<u64> {
        self.any.subscribe()
    }

    /// New events in `store`, or one of its subscriptions changed.
    pub fn signal_store(&self, store: &str) {
        self.sender(store).send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A subscription of `store` changed: wake its workers and the supervisor.
    pub fn signal_subscription(&self, store: &str) {
        self.signal_store(store);
        self.any.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Everything (after a reconnect, when notifications may have been missed).
    pub fn signal_all(&self) {
        let senders: Vec<_> = {
            let stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
            stores.values().cloned().collect()
        };
        for sender in senders {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
        self.any.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Routes one notification by channel and payload.
    pub fn on_notification(&self, channel: &str, payload: &str) {
        let store = payload.rsplit_once(':').map_or(payload, |(store, _)| store);
        match channel {
            APPENDED_CHANNEL => self.signal_store(store),
            SUBSCRIPTIONS_CHANNEL => self.signal_subscription(store),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_sent_before_waiting_is_not_lost() {
        let wakeups = Wakeups::new();
        let mut rx = wakeups.watch_store("orders");
        rx.borrow_and_update();
        wakeups.on_notification(APPENDED_CHANNEL, "orders:42");
        tokio::time::timeout(std::time::Duration::from_secs(1), rx.changed())
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn subscription_changes_wake_the_store_and_the_supervisor() {
        let wakeups = Wakeups::new();
        let mut store = wakeups.watch_store("orders");
        let mut any = wakeups.watch_subscriptions();
        store.borrow_and_update();
        any.borrow_and_update();
        wakeups.on_notification(SUBSCRIPTIONS_CHANNEL, "orders:sub-1");
        assert!(store.has_changed().unwrap());
        assert!(any.has_changed().unwrap());
        let mut other = wakeups.watch_store("billing");
        other.borrow_and_update();
        wakeups.on_notification(APPENDED_CHANNEL, "orders:43");
        assert!(!other.has_changed().unwrap());
    }
}
