//! A webhook receiver of the test's own, to see what a delivery carries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

/// What one delivery to a [`Probe`] carried.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Value,
}

/// A webhook receiver that records what it gets and answers 200.
pub struct Probe {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Probe {
    pub async fn start() -> Probe {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = received.clone();
        let server = HttpServer::new(move || {
            let store = store.clone();
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let store = store.clone();
                    async move {
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect();
                        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        store.lock().unwrap().push(Received { headers, body });
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Probe {
            url: format!("http://127.0.0.1:{port}/hook"),
            received,
            handle,
        }
    }

    /// The deliveries so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
