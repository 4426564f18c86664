//! Rust client for the Aura Leads API (`/v1/leads`).
//!
//! The [`Client`] and every type in [`types`] are generated from `openapi/leads.yaml` by
//! `cargo xtask generate` (progenitor, builder style); this file adds what a consumer wants
//! on top: a constructor that authenticates with an API key, and [`Client::lead_list_all`],
//! a stream over every lead that follows the list's cursors.
//!
//! Every client retries what failed for a passing reason (connection errors, 429, 503) as its
//! [`RetryPolicy`] says, [`RetryPolicy::default`] unless [`Client::with_retry_policy`] sets
//! another; each `lead_create` carries an `Idempotency-Key`, so that retrying it is safe.
//!
//! A receiver of the API's webhooks checks each delivery's signature and age, and reads its
//! event, with [`webhooks::verify`].
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use leads_client::{Client, types::LeadCreate};
//!
//! let client = Client::with_api_key("http://127.0.0.1:8080", "aura_pk_live_…")?;
//! let created = client
//!     .lead_create()
//!     .body(LeadCreate::builder().email("john@example.com"))
//!     .send()
//!     .await?;
//! println!("created lead {}", created.data.id);
//! # Ok(())
//! # }
//! ```

#[rustfmt::skip]
#[allow(unused_imports, clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
mod generated;
mod hooks;
mod retry;
pub mod webhooks;

use std::num::NonZeroU32;
use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt, stream};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

pub use generated::{ByteStream, Client, ClientInfo, Error, ResponseValue, builder, types};
pub use retry::RetryPolicy;

/// How long a request may take, connecting included, before it fails (progenitor's default).
const TIMEOUT: Duration = Duration::from_secs(15);

/// Why [`Client::with_api_key`] could not build a client.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The key cannot be sent in an HTTP header (it contains control characters, say).
    #[error("the API key contains characters that cannot be sent in an HTTP header")]
    InvalidApiKey,
    /// The HTTP client could not be set up.
    #[error("could not build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Filters for [`Client::lead_list_all`]: the query parameters of `lead_list` but the cursor.
#[derive(Clone, Debug, Default)]
pub struct LeadFilter {
    /// Only leads in this status.
    pub status: Option<types::LeadStatus>,
    /// Only leads whose `source.utm_source` equals this.
    pub source: Option<types::LeadListSource>,
    /// Only leads assigned to this user.
    pub assigned_to_id: Option<types::LeadListAssignedToId>,
    /// How many leads to fetch per request (the server's default when `None`).
    pub page_size: Option<NonZeroU32>,
}

/// An HTTP client that sends `Authorization: Bearer <api_key>` with every request, marked
/// sensitive so that it never shows in debug output: what [`Client::with_api_key`] uses, for
/// building other clients of the API (`Client::new_with_client`) the same way.
pub fn authenticated_http(api_key: &str) -> Result<reqwest::Client, BuildError> {
    let mut authorization = HeaderValue::from_str(&format!("Bearer {api_key}"))
        .map_err(|_| BuildError::InvalidApiKey)?;
    authorization.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, authorization);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .build()?)
}

impl Client {
    /// A client for the API at `base_url` (scheme, host, port; no trailing `/v1`) that sends
    /// `Authorization: Bearer <api_key>` with every request. It retries as
    /// [`RetryPolicy::default`] says, like every client until [`Client::with_retry_policy`].
    pub fn with_api_key(base_url: &str, api_key: &str) -> Result<Self, BuildError> {
        Ok(Self::new_with_client(
            base_url,
            authenticated_http(api_key)?,
        ))
    }

    /// This client, retrying as `policy` says ([`RetryPolicy::none`]: never).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.inner = policy;
        self
    }

    /// How this client retries.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner
    }

    /// Every lead matching `filter`, newest first, fetching pages as the stream is polled.
    ///
    /// It follows `pagination.next_cursor` until the last page; the first error ends the
    /// stream after it is yielded. Leads created while the walk is under way may or may not
    /// appear, but no lead is yielded twice and none that existed when it began is skipped.
    pub fn lead_list_all(
        &self,
        filter: LeadFilter,
    ) -> impl Stream<Item = Result<types::Lead, Error<types::ErrorResponse>>> + Unpin + '_ {
        /// Where the walk stands between two pages.
        enum Next {
            First,
            After(String),
            Done,
        }
        let pages = stream::try_unfold(Next::First, move |next| {
            let filter = filter.clone();
            async move {
                let cursor = match next {
                    Next::Done => return Ok::<_, Error<types::ErrorResponse>>(None),
                    Next::First => None,
                    Next::After(cursor) => Some(cursor),
                };
                let mut request = self.lead_list();
                if let Some(cursor) = cursor {
                    request = request.cursor(cursor);
                }
                if let Some(status) = filter.status {
                    request = request.status(status);
                }
                if let Some(source) = filter.source {
                    request = request.source(source);
                }
                if let Some(assigned_to_id) = filter.assigned_to_id {
                    request = request.assigned_to_id(assigned_to_id);
                }
                if let Some(page_size) = filter.page_size {
                    request = request.limit(page_size);
                }
                let page = request.send().await?.into_inner();
                let next = match page.pagination.next_cursor {
                    Some(cursor) if page.pagination.has_more => Next::After(cursor),
                    _ => Next::Done,
                };
                Ok(Some((page.data, next)))
            }
        });
        Box::pin(
            pages
                .map_ok(|leads| stream::iter(leads.into_iter().map(Ok)))
                .try_flatten(),
        )
        .fuse()
    }
}
