//! What the phases ask the server: the requests of each phase, the list's query strings and
//! cursors, and the check that a cursor the benchmark made lands where it should.
//!
//! Cursors are made from the database (the lead before the wanted page) rather than by
//! paging there through the API, which would take minutes at a million leads. They are made
//! as the server makes them (`server/src/api/cursor.rs`): base64url, unpadded, of
//! `{"c": created_at, "i": id}`; [`check_page`] asks the server for one such page before it
//! is measured and fails unless it starts at the expected lead.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request};
use http_body_util::Full;

use super::db::Position;
use super::load::{self, MakeRequest};

/// The UTM sources creates spread over, one after the other.
pub const CREATE_SOURCES: [&str; 5] = ["google", "facebook", "linkedin", "newsletter", "referral"];

/// The page size of every list phase.
pub const PAGE: u64 = 50;

/// One server and one organization's key.
#[derive(Clone)]
pub struct Api {
    address: SocketAddr,
    host: HeaderValue,
    authorization: HeaderValue,
}

impl Api {
    pub fn new(address: SocketAddr, key: &str) -> Result<Api> {
        Ok(Api {
            address,
            host: HeaderValue::try_from(address.to_string())?,
            authorization: HeaderValue::try_from(format!("Bearer {key}"))
                .context("the API key is not a header value")?,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        authorized: bool,
        body: Option<String>,
    ) -> Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if authorized {
            request = request.header(AUTHORIZATION, self.authorization.clone());
        }
        let body = match body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        Ok(request.body(Full::new(body))?)
    }

    /// Subscribes `target` to `event_type` (the webhooks phase), outside any phase.
    pub async fn subscribe(&self, event_type: &str, target: &str) -> Result<()> {
        let body = serde_json::json!({"event_type": event_type, "target_url": target});
        self.send(Method::POST, "/v1/webhooks", &body).await?;
        Ok(())
    }

    /// Sends `body` to `path` with the key, outside any phase: the answer's body, if its
    /// status is a success.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Vec<u8>> {
        let request = self.request(method.clone(), path, true, Some(body.to_string()))?;
        let (status, answer) = load::fetch(self.address, request).await?;
        ensure!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&answer)
        );
        Ok(answer.to_vec())
    }

    /// `GET /health`: no key, no database; the framework's ceiling.
    pub fn health(&self) -> MakeRequest {
        let api = self.clone();
        Arc::new(move |_| api.request(Method::GET, "/health", false, None))
    }

    /// `POST /v1/leads`, a lead-sized body with a new email each time.
    pub fn create(&self) -> MakeRequest {
        let api = self.clone();
        Arc::new(move |turn| {
            let source = CREATE_SOURCES[(turn.n as usize + turn.task) % CREATE_SOURCES.len()];
            let body = serde_json::json!({
                "email": format!("bench-{}-{}@example.com", turn.task, turn.n),
                "full_name": format!("Bench Lead {}", turn.n),
                "company": "Example Industries",
                "metadata": {
                    "utmSource": source,
                    "utmMedium": "cpc",
                    "utmCampaign": "spring-launch",
                },
            });
            api.request(Method::POST, "/v1/leads", true, Some(body.to_string()))
        })
    }

    /// `GET /v1/leads/{id}`, spread over `ids`.
    pub fn view(&self, ids: Arc<Vec<String>>) -> Result<MakeRequest> {
        ensure!(!ids.is_empty(), "no lead was created to view");
        let api = self.clone();
        Ok(Arc::new(move |turn| {
            let at = (turn.task as u64 * 1_000_003 + turn.n * 7_919) % ids.len() as u64;
            api.request(
                Method::GET,
                &format!("/v1/leads/{}", ids[at as usize]),
                true,
                None,
            )
        }))
    }

    /// `GET /v1/leads?{query}`, the same page every time.
    pub fn list(&self, query: &str) -> MakeRequest {
        let api = self.clone();
        let path = format!("/v1/leads?{query}");
        Arc::new(move |_| api.request(Method::GET, &path, true, None))
    }

    /// Asks for the page `query` names once, and fails unless it starts with `first_id`.
    pub async fn check_page(&self, query: &str, first_id: &str) -> Result<()> {
        let request = self.request(Method::GET, &format!("/v1/leads?{query}"), true, None)?;
        let (status, body) = load::fetch(self.address, request).await?;
        ensure!(
            status.is_success(),
            "GET /v1/leads?{query} answered {status}"
        );
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        let first = page["data"][0]["id"].as_str();
        if first != Some(first_id) {
            bail!(
                "GET /v1/leads?{query} starts at {first:?}, not at {first_id}: the cursor is wrong"
            );
        }
        Ok(())
    }
}

/// The id of the lead a create answered with (`{"data": {"id": …}}`).
pub fn created_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Created {
        data: Lead,
    }
    #[derive(serde::Deserialize)]
    struct Lead {
        id: String,
    }
    serde_json::from_slice::<Created>(body)
        .ok()
        .map(|created| created.data.id)
}

/// The cursor of the page that starts at `position`, as the server would issue it.
pub fn cursor(position: &Position) -> Result<String> {
    let created_at = DateTime::from_timestamp_micros(position.before_created_at)
        .context("a created_at out of range")?
        .to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let json = serde_json::json!({"c": created_at, "i": position.before_id});
    Ok(URL_SAFE_NO_PAD.encode(json.to_string()))
}

/// The cursor of the `changed` order's page that starts after change `change`, as the server
/// would issue it.
pub fn change_cursor(change: u64) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!({ "n": change }).to_string())
}

/// The query string of a page of [`PAGE`] leads: after `cursor`, if any, matching `filters`.
pub fn list_query(cursor: Option<&str>, filters: &[(&str, &str)]) -> String {
    let mut pairs = vec![("limit", PAGE.to_string())];
    pairs.extend(cursor.map(|cursor| ("cursor", cursor.to_owned())));
    pairs.extend(
        filters
            .iter()
            .map(|&(name, value)| (name, value.to_owned())),
    );
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_made_as_the_server_makes_them() {
        // The spec's example cursor: 2026-01-17T08:00:00Z and 550e8400-….
        let position = Position {
            before_created_at: 1_768_636_800_000_000,
            before_id: "550e8400-e29b-41d4-a716-446655440000".into(),
            first_id: String::new(),
        };
        assert_eq!(
            cursor(&position).unwrap(),
            "eyJjIjoiMjAyNi0wMS0xN1QwODowMDowMFoiLCJpIjoiNTUwZTg0MDAtZTI5Yi00MWQ0LWE3MTYtNDQ2NjU1NDQwMDAwIn0"
        );
    }

    #[test]
    fn cursors_keep_microseconds() {
        let position = Position {
            before_created_at: 1_768_636_800_123_456,
            before_id: "550e8400-e29b-41d4-a716-446655440000".into(),
            first_id: String::new(),
        };
        let json = URL_SAFE_NO_PAD.decode(cursor(&position).unwrap()).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(json["c"], "2026-01-17T08:00:00.123456Z");
    }

    #[test]
    fn list_queries() {
        assert_eq!(list_query(None, &[]), "limit=50");
        assert_eq!(
            list_query(Some("abc"), &[("status", "lost"), ("source", "referral")]),
            "limit=50&cursor=abc&status=lost&source=referral"
        );
    }

    #[test]
    fn the_created_id_is_read_from_the_envelope() {
        let body = br#"{"data": {"id": "x-1", "email": "a@b.c"}, "success": true}"#;
        assert_eq!(created_id(body).as_deref(), Some("x-1"));
        assert_eq!(created_id(b"{}"), None);
    }
}
