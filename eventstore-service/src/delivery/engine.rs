//! The delivery engine of one replica: the notification listener and a supervisor that keeps
//! one [`Worker`] per subscription (each of which holds or waits for that subscription's lease).

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Pool;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::context::DeliveryContext;
use super::listener;
use super::worker::Worker;
use crate::subscriptions::db;

/// Starts the listener and the supervisor; both end soon after `token` is cancelled (the
/// supervisor after its workers released their leases).
pub fn spawn(
    pool: Pool,
    database_url: String,
    context: DeliveryContext,
    token: CancellationToken,
) -> Vec<JoinHandle<()>> {
    if !context.settings.enabled {
        tracing::info!("webhook delivery is switched off on this replica");
        return Vec::new();
    }
    let listener = tokio::spawn(listener::run(
        database_url,
        context.wakeups.clone(),
        token.clone(),
    ));
    let supervisor = tokio::spawn(supervise(pool, context, token));
    vec![listener, supervisor]
}

async fn supervise(pool: Pool, context: DeliveryContext, token: CancellationToken) {
    let mut changes = context.wakeups.watch_subscriptions();
    let mut running: HashSet<(i32, String)> = HashSet::new();
    let mut workers: JoinSet<()> = JoinSet::new();
    let mut by_task: HashMap<tokio::task::Id, (i32, String)> = HashMap::new();
    loop {
        changes.borrow_and_update();
        match keys(&pool).await {
            Ok(keys) => {
                for (store_id, store_name, id) in keys {
                    let key = (store_id, id.clone());
                    if running.insert(key.clone()) {
                        let worker = Worker {
                            pool: pool.clone(),
                            context: context.clone(),
                            store_id,
                            store_name,
                            subscription_id: id,
                        };
                        let handle = workers.spawn(worker.run(token.clone()));
                        by_task.insert(handle.id(), key);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list subscriptions"),
        }
        loop {
            tokio::select! {
                () = token.cancelled() => {
                    while workers.join_next().await.is_some() {}
                    return;
                }
                _ = changes.changed() => break,
                () = tokio::time::sleep(context.settings.poll_interval) => break,
                Some(done) = workers.join_next_with_id() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(e) => {
                            tracing::error!(error = %e, "a delivery worker failed; restarting it");
                            e.id()
                        }
                    };
                    if let Some(key) = by_task.remove(&id) {
                        running.remove(&key);
                    }
                }
            }
        }
    }
}

async fn keys(
    pool: &Pool,
) -> Result<Vec<(i32, String, String)>, Box<dyn std::error::Error + Send + Sync>> {
    let client = pool.get().await?;
    Ok(db::all_keys(&**client).await?)
}
