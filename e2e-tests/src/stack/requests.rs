//! The test's requests to the stack: small helpers that answer `(status, JSON)`.

use super::{API_KEY, Stack};

impl Stack {
    /// `GET url` with the event store's API key; the JSON answer and its status.
    pub async fn get_store(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.eventstore))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .expect("the event store answers");
        json_of(response).await
    }

    /// `POST` a JSON body to the command service; the JSON answer and its status.
    pub async fn post_command(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.command))
            .json(&body)
            .send()
            .await
            .expect("the command service answers");
        json_of(response).await
    }

    /// `GET` from the query service; the JSON answer and its status.
    pub async fn query(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.query))
            .send()
            .await
            .expect("the query service answers");
        json_of(response).await
    }
}

async fn json_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a readable body");
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, json)
}
