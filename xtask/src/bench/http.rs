//! The benchmarks' HTTP load generator: each client owns ONE bare HTTP/1.1 keep-alive connection
//! (hyper's `client::conn::http1`), the way wrk or oha drive a server: no connection pool, no URL
//! parsing, no redirect or timeout machinery per request.
//!
//! Why not reqwest here: client, service and database share this machine's two cores, so every
//! microsecond the client spends is taken from the service being measured. reqwest's pool and
//! request building cost several times what the bare connection does; the raw baselines use
//! equally bare clients (tokio-postgres, one Redis connection per client).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::BoxError;

/// One keep-alive connection per client, by client index (the load driver's `client`).
pub struct Clients {
    authority: String,
    connections: Vec<Mutex<SendRequest<Full<Bytes>>>>,
}

/// An answer: status and whole body.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Clients {
    /// Opens `n` connections to `base` (`http://host:port`).
    pub async fn connect(base: &str, n: usize) -> Result<Arc<Self>, BoxError> {
        let authority = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("{base} is not an http:// address"))?
            .trim_end_matches('/')
            .to_owned();
        let mut connections = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let stream = TcpStream::connect(&authority).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                // Ends when the sender is dropped or the server closes; a request then fails.
                let _ = connection.await;
            });
            connections.push(Mutex::new(sender));
        }
        Ok(Arc::new(Self {
            authority,
            connections,
        }))
    }

    /// `GET path` on `client`'s connection.
    pub async fn get(&self, client: usize, path: &str) -> Result<Answer, BoxError> {
        self.send(client, Method::GET, path, None).await
    }

    /// `POST path` with a JSON `body` on `client`'s connection.
    pub async fn post_json(
        &self,
        client: usize,
        path: &str,
        body: Bytes,
    ) -> Result<Answer, BoxError> {
        self.send(client, Method::POST, path, Some(body)).await
    }

    async fn send(
        &self,
        client: usize,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Answer, BoxError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(body.unwrap_or_default()))?;
        let connection = &self.connections[client % self.connections.len()];
        let mut sender = connection.lock().await;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }
}

impl Answer {
    /// Fails unless the status is `expected`, naming the request and the body.
    pub fn expect(self, expected: StatusCode, what: &str) -> Result<Self, BoxError> {
        if self.status == expected {
            Ok(self)
        } else {
            Err(format!(
                "{what} answered {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
            .into())
        }
    }
}
