//! The wake-up connection: a dedicated PostgreSQL connection (not from the pool, which would
//! hand it to others and lose the `LISTEN`) on the append and subscription channels, feeding
//! [`Wakeups`]. On any error it reconnects with a growing pause, and signals everything once
//! reconnected, since notifications sent meanwhile are lost.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::poll_fn;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use super::wakeups::{APPENDED_CHANNEL, SUBSCRIPTIONS_CHANNEL, Wakeups};

const MIN_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// Longest wait for the connection to be made.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Listens until `token` is cancelled.
pub async fn run(database_url: String, wakeups: Wakeups, token: CancellationToken) {
    let mut pause = MIN_PAUSE;
    loop {
        let outcome = tokio::select! {
            () = token.cancelled() => return,
            outcome = listen_once(&database_url, &wakeups) => outcome,
        };
        match outcome {
            Ok(()) => {
                tracing::warn!("notification connection closed; reconnecting");
                pause = MIN_PAUSE;
            }
            Err(e) => tracing::warn!(error = %e, "notification connection failed; reconnecting"),
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

async fn listen_once(
    database_url: &str,
    wakeups: &Wakeups,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = crate::db::connection_config(database_url, CONNECT_TIMEOUT)?;
    let (client, mut connection) = config.connect(NoTls).await?;
    let mut messages = poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {APPENDED_CHANNEL}; LISTEN {SUBSCRIPTIONS_CHANNEL};");
    {
        let listen = client.batch_execute(&statement);
        // The connection must be polled for the LISTEN to complete.
        tokio::pin!(listen);
        loop {
            tokio::select! {
                done = &mut listen => { done?; break; }
                message = messages.next() => match message {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                },
            }
        }
    }
    tracing::debug!("listening for append and subscription notifications");
    wakeups.signal_all();
    while let Some(message) = messages.next().await {
        if let AsyncMessage::Notification(n) = message? {
            wakeups.on_notification(n.channel(), n.payload());
        }
    }
    drop(client);
    Ok(())
}
