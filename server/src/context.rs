//! The state every request shares, and the admission of a request: who calls, whether its
//! rate limit lets it through, and whether the server has room to work on it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::api::idempotency;
use crate::api::observe::{Observed, note_organization};
use crate::auth::{Authenticator, Caller};
use crate::connections::ClientAddresses;
use crate::domain::{self, Lead, LeadChanges, LeadFilter, OrganizationId, VersionCondition};
use crate::error::Error;
use crate::metrics::{HttpMetrics, Refusals};
use crate::ratelimit::{RateLimitStatus, RateLimiter};
use crate::reference::References;
use crate::store::{IdempotentAnswer, Store, StoreError};
use crate::webhooks::Webhooks;

pub struct AppContext {
    /// The client behind each connection dropshot sees (they all come from the front door).
    pub clients: ClientAddresses,
    pub store: Arc<dyn Store>,
    pub limiter: RateLimiter,
    /// Checks API keys; remembers unknown ones and limits unfamiliar ones per address.
    pub authenticator: Authenticator,
    /// The idempotency keys whose first request is being answered.
    pub idempotency: idempotency::InFlight,
    /// One permit per API request in flight; none left answers `503`.
    pub in_flight: Arc<Semaphore>,
    /// How long a request's body may take to arrive.
    pub body_read_timeout: Duration,
    /// The spec of every served version, and its reference page.
    pub references: Arc<References>,
    /// The webhook delivery worker, woken by lead writes ([`AppContext::insert_lead`],
    /// [`AppContext::update_lead`]).
    pub webhooks: Webhooks,
    /// The API's requests, as operators see them, if metrics are served.
    pub metrics: Option<HttpMetrics>,
    /// Requests turned away, by cause.
    pub refusals: Refusals,
}

impl Observed for AppContext {
    fn http_metrics(&self) -> Option<&HttpMetrics> {
        self.metrics.as_ref()
    }
}

/// An admitted caller and its rate-limit standing.
pub struct Admitted {
    pub caller: Caller,
    pub rate_limit: RateLimitStatus,
}

/// Lead writes, each one application step: the write, with the webhook events it causes
/// rendered by the renderer the store was given and stored in the write's transaction, then
/// the delivery worker woken to send them. Handlers write leads only through these.
impl AppContext {
    /// Stores `lead` (and `answer`, the answer kept for its idempotency key), with its
    /// `lead.created` deliveries.
    pub async fn insert_lead(
        &self,
        lead: Lead,
        answer: Option<IdempotentAnswer>,
    ) -> Result<Lead, StoreError> {
        let lead = self.store.lead_insert(lead, answer).await?;
        self.webhooks.wake();
        Ok(lead)
    }

    /// Applies `changes` to the organization's lead if `condition` admits its version (see
    /// [`Store::lead_update`]), with the deliveries of the events the change causes.
    pub async fn update_lead(
        &self,
        organization: OrganizationId,
        id: Uuid,
        changes: LeadChanges,
        condition: Option<VersionCondition>,
    ) -> Result<Option<Lead>, StoreError> {
        let lead = self
            .store
            .lead_update(organization, id, changes, condition, domain::now())
            .await?;
        self.webhooks.wake();
        Ok(lead)
    }

    /// What a lead write the store refused answers: a taken `email` names the organization's
    /// lead that holds it, looked up after the refusal (the holder may be gone by then).
    pub async fn lead_write_refused(
        &self,
        organization: OrganizationId,
        email: Option<&str>,
        error: StoreError,
    ) -> Error {
        let (StoreError::EmailTaken, Some(email)) = (&error, email) else {
            return error.into();
        };
        let filter = LeadFilter {
            email: Some(email.to_string()),
            ..LeadFilter::default()
        };
        let holder = match self.store.lead_list(organization, filter, None, 1).await {
            Ok(found) => found.first().map(|lead| lead.id),
            // The 409 stands; only the name of the holder is missing.
            Err(_) => None,
        };
        Error::EmailTaken { holder }
    }

    /// Deletes the organization's lead and erases its copies if `condition` admits its
    /// version (see [`Store::lead_delete`]), with the deliveries of its `lead.deleted`;
    /// whether there was such a lead.
    pub async fn delete_lead(
        &self,
        organization: OrganizationId,
        id: Uuid,
        condition: Option<VersionCondition>,
    ) -> Result<bool, StoreError> {
        let deleted = self
            .store
            .lead_delete(organization, id, condition, domain::now())
            .await?;
        self.webhooks.wake();
        Ok(deleted)
    }
}

impl AppContext {
    /// Authenticates the request and counts it against its key's and organization's limits,
    /// before any of its body is read.
    pub async fn admit(&self, request: &dropshot::RequestInfo) -> Result<Admitted, Error> {
        let caller = self
            .authenticator
            .authenticate(
                self.store.as_ref(),
                request.headers(),
                self.clients.client_of(request.remote_addr()),
            )
            .await?;
        // Known before the rate limit answers, so that a refusal's log line names it too.
        note_organization(caller.organization);
        let rate_limit = self.limiter.admit(caller.key, caller.organization).await?;
        Ok(Admitted { caller, rate_limit })
    }

    /// A place among the requests in flight, held while an admitted request is worked on
    /// (its body already read, so a slow client never holds one); `503` when none is left.
    pub fn in_flight(&self) -> Result<OwnedSemaphorePermit, Error> {
        Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(|_| Error::ServiceUnavailable)
    }
}
