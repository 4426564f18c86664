//! The state every request shares, and the admission of a request: who calls, and whether
//! its rate limit lets it through.

use std::sync::Arc;

use crate::auth::{self, Caller};
use crate::error::Error;
use crate::ratelimit::{RateLimitStatus, RateLimiter};
use crate::reference::Reference;
use crate::store::Store;

pub struct AppContext {
    pub store: Arc<dyn Store>,
    pub limiter: RateLimiter,
    /// The spec the server was built from, and its reference page.
    pub reference: Arc<Reference>,
}

/// An admitted caller and its rate-limit standing.
pub struct Admitted {
    pub caller: Caller,
    pub rate_limit: RateLimitStatus,
}

impl AppContext {
    /// Authenticates the request and counts it against its key's and organization's limits.
    pub async fn admit(&self, headers: &http::HeaderMap) -> Result<Admitted, Error> {
        let caller = auth::authenticate(self.store.as_ref(), headers).await?;
        let rate_limit = self.limiter.admit(caller.key, caller.organization)?;
        Ok(Admitted { caller, rate_limit })
    }
}
