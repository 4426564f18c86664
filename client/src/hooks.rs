//! How the generated [`Client`] sends a request: its `ClientHooks`, which `cargo xtask
//! generate` requires of it. Before a `lead_create` is sent, it gets an `Idempotency-Key`;
//! then each request is sent and sent again as the client's [`RetryPolicy`](crate::RetryPolicy)
//! says.

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::HeaderValue;

use crate::{Client, Error, RetryPolicy};

/// The operation that creates a lead: the one that is not idempotent by itself.
const LEAD_CREATE: &str = "lead_create";

/// The header by which the server recognizes a create it has already done.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl ClientHooks<RetryPolicy> for Client {
    /// Gives a `lead_create` without an `Idempotency-Key` a fresh one (a random UUID), before
    /// its first attempt: every retry of it then carries the same key, so that retries cannot
    /// create the lead twice. A key the request has already is kept.
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        if info.operation_id == LEAD_CREATE && !request.headers().contains_key(IDEMPOTENCY_KEY) {
            let key = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .map_err(|error| Error::InvalidRequest(error.to_string()))?;
            request.headers_mut().insert(IDEMPOTENCY_KEY, key);
        }
        Ok(())
    }

    /// Sends `request`, and again while the policy finds the outcome worth a retry, waiting
    /// as it says in between; returns the last outcome.
    async fn exec(
        &self,
        mut request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let mut retry = 0;
        loop {
            // A body that cannot be cloned (a stream) is consumed by its one attempt.
            let Some(next) = request.try_clone() else {
                return self.client.execute(request).await;
            };
            let outcome = self.client.execute(request).await;
            let Some(wait) = self.inner.wait_before_retry(&outcome, retry) else {
                return outcome;
            };
            tokio::time::sleep(wait).await;
            request = next;
            retry += 1;
        }
    }
}
