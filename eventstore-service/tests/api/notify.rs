//! Every append transaction notifies `eventstore_appended` with `<store>:<last global position>`
//! at commit, so subscription dispatchers wake without polling.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use serde_json::json;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::helpers::{STORE, events_body, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_append_notifies_the_store_and_its_last_position_on_commit() {
    // Arrange: a listener on the service's database.
    let app = spawn_app().await;
    let (client, mut connection) = tokio_postgres::connect(&app.database_url, NoTls)
        .await
        .unwrap();
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = sender.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    client
        .batch_execute("LISTEN eventstore_appended")
        .await
        .unwrap();

    // Act
    app.append_ok("a", &events_body(3, json!("any"))).await;
    app.append_ok("b", &events_body(2, json!("any"))).await;

    // Assert
    for expected in [format!("{STORE}:3"), format!("{STORE}:5")] {
        let (channel, payload) = tokio::time::timeout(Duration::from_secs(5), notifications.recv())
            .await
            .expect("a notification within 5 s")
            .unwrap();
        assert_eq!(channel, "eventstore_appended");
        assert_eq!(payload, expected);
    }
}
