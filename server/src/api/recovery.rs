//! The webhook operations for what a subscriber does after something went wrong: read the
//! attempts of a delivery, resend one delivery, recover every failed delivery since a time,
//! and send a test event. Each is scoped to the caller's organization (another's subscription
//! is `WEBHOOK_NOT_FOUND`); those that queue a send refuse a disabled subscription
//! (`WEBHOOK_DISABLED`, since nothing is sent to it) and wake the delivery worker.

use dropshot::{HttpResponseAccepted, HttpResponseOk, RequestContext};

use super::admission::{Headed, authenticated, headed};
use super::cursor::{self, page};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryParams};
use super::{convert, types};
use crate::context::AppContext;
use crate::domain::{self, AttemptRecord, DELIVERIES_KEPT, Delivery};
use crate::error::Error;
use crate::ratelimit::RateLimitStatus;
use crate::store::Recovery;
use crate::webhooks::payload;

pub async fn attempt_list(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookDeliveryAttemptListPath>,
    query: QueryParams<types::WebhookDeliveryAttemptListQuery>,
) -> Result<Headed<HttpResponseOk<types::WebhookDeliveryAttemptListResponse>>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookDeliveryAttemptListPath { delivery_id, id } = path.into_inner()?;
        let types::WebhookDeliveryAttemptListQuery { cursor, limit } = query.into_inner()?;
        let organization = admitted.caller.organization;
        let after = cursor.map(|c| cursor::decode(&c)).transpose()?;
        // The subscription first: another organization's is not found, whatever the delivery.
        app.store
            .webhook_subscription_get(organization, id)
            .await?
            .ok_or(Error::WebhookNotFound)?;
        app.store
            .webhook_delivery_get(organization, id, delivery_id)
            .await?
            .ok_or(Error::WebhookDeliveryNotFound)?;
        let limit = limit.get();
        let attempts = app
            .store
            .webhook_delivery_attempts(delivery_id, after, limit + 1)
            .await?;
        let (attempts, pagination) = page(attempts, limit, AttemptRecord::keyset);
        let page = types::WebhookDeliveryAttemptListResponse {
            data: attempts
                .into_iter()
                .map(convert::attempt)
                .collect::<Result<_, _>>()?,
            pagination,
            success: true,
        };
        Ok(headed(HttpResponseOk(page), admitted.rate_limit))
    })
    .await
}

pub async fn resend(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookDeliveryResendPath>,
) -> Result<Headed<HttpResponseAccepted<types::WebhookDeliveryResponse>>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookDeliveryResendPath { delivery_id, id } = path.into_inner()?;
        let outcome = app
            .store
            .webhook_delivery_resend(admitted.caller.organization, id, delivery_id, domain::now())
            .await?;
        let delivery = done(outcome)?;
        app.webhooks.wake();
        delivery_answer(delivery, admitted.rate_limit)
    })
    .await
}

pub async fn recover(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookRecoverPath>,
    mut body: JsonBody<types::WebhookRecover>,
) -> Result<Headed<HttpResponseAccepted<types::WebhookRecoveryResponse>>, ApiError> {
    authenticated(&rqctx, body.admission(), |app, admitted| async move {
        let types::WebhookRecoverPath { id } = path.into_inner()?;
        let (types::WebhookRecover { since }, _raw) = body.into_parts()?;
        let now = domain::now();
        if since > now {
            return Err(Error::invalid_field("since", "must not be in the future"));
        }
        // Older deliveries are swept, or about to be: a recovery from before would promise
        // what it cannot send.
        if since < now - DELIVERIES_KEPT {
            return Err(Error::invalid_field(
                "since",
                "must be within the last 30 days, the time deliveries are kept",
            ));
        }
        let outcome = app
            .store
            .webhook_recover(
                admitted.caller.organization,
                id,
                since,
                now,
                domain::MAX_PENDING_PER_SUBSCRIPTION,
            )
            .await?;
        let queued = done(outcome)?;
        app.webhooks.wake();
        let recovery = types::WebhookRecoveryResponse {
            data: types::WebhookRecovery {
                queued: i64::try_from(queued)
                    .map_err(|_| Error::Internal("a recovery's count is out of range".into()))?,
            },
            success: true,
        };
        Ok(headed(HttpResponseAccepted(recovery), admitted.rate_limit))
    })
    .await
}

pub async fn test(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookTestPath>,
) -> Result<Headed<HttpResponseAccepted<types::WebhookDeliveryResponse>>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookTestPath { id } = path.into_inner()?;
        let organization = admitted.caller.organization;
        // Its event type says what to render; the store checks again, in the write, that it
        // is still there and active.
        let subscription = app
            .store
            .webhook_subscription_get(organization, id)
            .await?
            .ok_or(Error::WebhookNotFound)?;
        if subscription.disabled_at.is_some() {
            return Err(Error::WebhookDisabled);
        }
        let now = domain::now();
        let body = payload::render_test(subscription.event_type, organization, now)
            .map_err(Error::Internal)?;
        let outcome = app
            .store
            .webhook_test_enqueue(organization, id, subscription.event_type, body, now)
            .await?;
        let delivery = done(outcome)?;
        app.webhooks.wake();
        delivery_answer(delivery, admitted.rate_limit)
    })
    .await
}

/// What a recovery write came to, as the answer's error when nothing was done.
fn done<T>(outcome: Recovery<T>) -> Result<T, Error> {
    match outcome {
        Recovery::Done(done) => Ok(done),
        Recovery::NoSubscription => Err(Error::WebhookNotFound),
        Recovery::NoDelivery => Err(Error::WebhookDeliveryNotFound),
        Recovery::Disabled => Err(Error::WebhookDisabled),
    }
}

/// The answer of an operation that queued one delivery: the delivery as it now is.
fn delivery_answer(
    delivery: Delivery,
    standing: RateLimitStatus,
) -> Result<Headed<HttpResponseAccepted<types::WebhookDeliveryResponse>>, Error> {
    let response = types::WebhookDeliveryResponse {
        data: convert::delivery(delivery)?,
        success: true,
    };
    Ok(headed(HttpResponseAccepted(response), standing))
}
