//! The server under test: in-process with a temporary database, or a deployment named by
//! `LEADS_BASE_URL` (with `LEADS_API_KEY` and `LEADS_API_KEY_OTHER_ORG`).

use std::time::Duration;

use leads_client::{Client, RetryPolicy};
use leads_server::ratelimit::Limits;
use leads_server::testing::{TestServer, TestServerBuilder};
use reqwest::Method;
use serde::Serialize;

use crate::exchange::Exchange;
use crate::release::Release;

/// An organization's view of the server: its key and a client that sends it.
pub struct Org {
    pub key: String,
    pub client: Client,
}

/// A server to test, two organizations on it, and a tag unique to this test.
pub struct Env {
    pub base_url: String,
    /// Organization A, the one most tests act as.
    pub a: Org,
    /// Organization B, for tenancy checks.
    pub b: Org,
    tag: String,
    http: reqwest::Client,
    server: Option<TestServer>,
}

/// Whether the tests run against an in-process server (no `LEADS_BASE_URL`).
pub fn in_process() -> bool {
    std::env::var_os("LEADS_BASE_URL").is_none()
}

impl Env {
    /// A server with the default rate limits.
    pub async fn start() -> Self {
        Self::start_with(Limits::default()).await
    }

    /// A server with these rate limits (in-process only; a deployment has its own).
    pub async fn start_with(limits: Limits) -> Self {
        Self::start_built(TestServer::builder().rate_limits(limits)).await
    }

    /// A server set up by `builder` (in-process only; a deployment has its own settings).
    pub async fn start_built(builder: TestServerBuilder) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        match std::env::var("LEADS_BASE_URL") {
            Ok(base_url) => {
                let key = |name: &str| {
                    std::env::var(name).unwrap_or_else(|_| {
                        panic!("LEADS_BASE_URL is set, so {name} must be set too")
                    })
                };
                let (key_a, key_b) = (key("LEADS_API_KEY"), key("LEADS_API_KEY_OTHER_ORG"));
                Self::new(
                    base_url.trim_end_matches('/').to_string(),
                    key_a,
                    key_b,
                    tag,
                    None,
                )
            }
            Err(_) => Self::start_in_process(builder, tag).await,
        }
    }

    async fn start_in_process(builder: TestServerBuilder, tag: String) -> Self {
        let server = builder.start().await.expect("the server starts");
        let key_b = server.create_key("other").await.expect("a key");
        Self::new(
            server.base_url().to_string(),
            server.api_key().to_string(),
            key_b,
            tag,
            Some(server),
        )
    }

    fn new(
        base_url: String,
        key_a: String,
        key_b: String,
        tag: String,
        server: Option<TestServer>,
    ) -> Self {
        let org = |key: String| Org {
            client: unretrying(Client::with_api_key(&base_url, &key).expect("a client")),
            key,
        };
        Self {
            a: org(key_a),
            b: org(key_b),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            base_url,
            tag,
            server,
        }
    }

    /// Where the server listens, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The in-process server, to control it; `None` against a deployment.
    pub fn server(&self) -> Option<&TestServer> {
        self.server.as_ref()
    }

    /// Restarts the in-process server on its database and port (see `TestServer::restart`).
    ///
    /// # Panics
    /// Against a deployment, which the tests cannot restart: use it in in-process scenarios.
    pub async fn restart(&mut self) {
        let server = self.server.take().expect("an in-process server");
        self.server = Some(server.restart().await.expect("the server restarts"));
    }

    /// A string unique to this test, redacted as `[tag]` in snapshots. Tests put it into
    /// emails and attribution so that they never collide with other data on a deployment.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// A unique email address for this test: `label.<tag>@example.com`.
    pub fn email(&self, label: &str) -> String {
        format!("{label}.{}@example.com", self.tag)
    }

    /// A client that sends no key at all.
    pub fn client_without_key(&self) -> Client {
        unretrying(Client::new(&self.base_url))
    }

    /// A client that sends `key`, whatever it is.
    pub fn client_with_key(&self, key: &str) -> Client {
        unretrying(Client::with_api_key(&self.base_url, key).expect("a client"))
    }

    /// Organization A's client of a released version: an old consumer. `new` is that
    /// version's `Client::new_with_client` (`released::v4_0_0::Client::new_with_client`).
    pub fn released_client<C>(&self, new: fn(&str, reqwest::Client) -> C) -> C {
        let http = leads_client::authenticated_http(&self.a.key).expect("an HTTP client");
        new(&self.base_url, http)
    }

    /// Records the outcome of a call of this client as the answer to `operation`: checked
    /// against the working spec, and counted towards its coverage gate.
    pub async fn observe<T: Serialize, E: Serialize + std::fmt::Debug>(
        &self,
        operation: &'static str,
        result: Result<leads_client::ResponseValue<T>, leads_client::Error<E>>,
    ) -> Exchange {
        let exchange = Exchange::from_client(operation, result, &self.tag).await;
        crate::coverage::record(&exchange);
        exchange
    }

    /// Records the outcome of a call of `release`'s client (see [`Env::released_client`]) as
    /// the answer to `operation`: it decoded into that release's types, and is checked against
    /// that release's document and for the version it was served in ([`Release::check`]),
    /// not against the working spec nor towards its coverage gate.
    pub async fn observe_released<T: Serialize, E: Serialize + std::fmt::Debug>(
        &self,
        release: &Release,
        operation: &'static str,
        result: Result<leads_client::ResponseValue<T>, leads_client::Error<E>>,
    ) -> Exchange {
        let exchange = Exchange::from_client(operation, result, &self.tag).await;
        release.check(&exchange);
        exchange
    }

    /// Sends a request the client cannot send (invalid input it refuses, malformed JSON, an
    /// odd content type) and records its answer as the answer to `operation`.
    pub async fn raw(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Exchange {
        self.raw_with_headers(operation, method, path, key, &[], body)
            .await
    }

    /// [`Env::raw`] with further request `headers` (`If-Match`, `Idempotency-Key`).
    pub async fn raw_with_headers(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Exchange {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.expect("the server answers");
        let exchange = Exchange::from_response(operation, response, &self.tag).await;
        crate::coverage::record(&exchange);
        exchange
    }

    /// A GET without a key but with `headers` (`If-None-Match`), for the answers the client
    /// cannot read (a body that is not JSON, `304`); recorded as the answer to `operation`.
    pub async fn raw_get(
        &self,
        operation: &'static str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Exchange {
        let mut request = self.http.get(format!("{}{path}", self.base_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let exchange = Exchange::from_response(operation, response, &self.tag).await;
        crate::coverage::record(&exchange);
        exchange
    }

    /// [`Env::raw`] with a JSON body.
    pub async fn raw_json(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> Exchange {
        let bytes = serde_json::to_vec(body).expect("JSON");
        self.raw(
            operation,
            method,
            path,
            Some(key),
            Some(("application/json", bytes)),
        )
        .await
    }
}

/// `client` sending every request once: the suite pins each answer, which a retry would hide
/// (the client's retries have tests of their own, in `leads-client`).
fn unretrying(client: Client) -> Client {
    client.with_retry_policy(RetryPolicy::none())
}
