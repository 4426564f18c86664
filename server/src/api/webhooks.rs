//! The webhook operations of `LeadsApi`: subscriptions (create, list, view, delete, enable
//! again, rotate the signing secret) and the deliveries log, each a thin translation between the wire and the store, for an admitted
//! caller and scoped to its organization.

use dropshot::{HttpResponseCreated, HttpResponseOk, HttpResponseUpdatedNoContent, RequestContext};

use super::admission::{Headed, authenticated, headed};
use super::cursor::{self, page};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryParams};
use super::{convert, types, versions};
use crate::context::AppContext;
use crate::domain::{self, SigningSecret, Subscription};
use crate::error::Error;
use crate::ratelimit::RateLimitStatus;
use crate::store::StoreError;
use crate::webhooks::target::Unresolved;

/// How a version answers a subscription beyond its organization's limit.
#[derive(Clone, Copy, Debug)]
pub enum LimitAnswer {
    /// `409 WEBHOOK_LIMIT_REACHED`: a limit of state gets a state answer (since 5.0.0).
    Conflict,
    /// `400 VALIDATION_ERROR`, as versions before 5.0.0 were promised.
    Validation,
}

impl LimitAnswer {
    fn error(self, max: u32) -> Error {
        match self {
            LimitAnswer::Conflict => Error::WebhookLimitReached { max },
            LimitAnswer::Validation => Error::invalid(format!(
                "An organization may have at most {max} webhook subscriptions; delete one first"
            )),
        }
    }
}

pub async fn create(
    rqctx: RequestContext<AppContext>,
    mut body: JsonBody<types::WebhookSubscriptionCreate>,
    limit_answer: LimitAnswer,
) -> Result<Headed<HttpResponseCreated<types::WebhookSubscriptionCreatedResponse>>, ApiError> {
    let log = rqctx.log.clone();
    authenticated(&rqctx, body.admission(), |app, admitted| async move {
        let (body, _raw) = body.into_parts()?;
        let types::WebhookSubscriptionCreate {
            event_type,
            target_url,
        } = body;
        let targets = &app.webhooks.targets;
        let url = targets
            .check_url(target_url.as_str())
            .map_err(|why| Error::invalid_field("target_url", why))?;
        // Within RESOLVE_TIMEOUT, and only while a lookup slot is free: slow names hold
        // few request slots, and none for long.
        targets.check_resolved(&url).await.map_err(|refused| {
            slog::debug!(log, "a subscription's target was refused";
                "detail" => refused.detail());
            match refused {
                Unresolved::Busy => Error::ServiceUnavailable,
                refused => Error::invalid_field("target_url", refused.to_string()),
            }
        })?;
        let subscription = Subscription {
            id: uuid::Uuid::now_v7(),
            organization: admitted.caller.organization,
            event_type: convert::event_type_from_wire(event_type),
            // As sent: the subscriber's own spelling is what it recognises in the list.
            target_url: target_url.to_string(),
            created_at: domain::now(),
            disabled_at: None,
        };
        let secret = SigningSecret::generate();
        let sealed = app
            .webhooks
            .secrets
            .seal(subscription.id, &secret)
            .map_err(|error| Error::Internal(format!("sealing a signing secret: {error}")))?;
        app.store
            .webhook_subscription_insert(
                subscription.clone(),
                sealed,
                app.webhooks.max_subscriptions,
            )
            .await
            .map_err(|error| match error {
                StoreError::SubscriptionLimitReached(max) => limit_answer.error(max),
                error => error.into(),
            })?;
        let created = types::WebhookSubscriptionCreatedResponse {
            data: convert::subscription_created(subscription, &secret)?,
            success: true,
        };
        Ok(headed(HttpResponseCreated(created), admitted.rate_limit))
    })
    .await
}

pub async fn list(
    rqctx: RequestContext<AppContext>,
    query: QueryParams<types::WebhookListQuery>,
) -> Result<Headed<HttpResponseOk<types::WebhookSubscriptionListResponse>>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookListQuery {
            cursor,
            event_type,
            limit,
        } = query.into_inner()?;
        let after = cursor.map(|c| cursor::decode(&c)).transpose()?;
        let limit = limit.get();
        let subscriptions = app
            .store
            .webhook_subscription_list(
                admitted.caller.organization,
                event_type.map(convert::event_type_from_wire),
                after,
                limit + 1,
            )
            .await?;
        let (subscriptions, pagination) = page(subscriptions, limit, Subscription::keyset);
        let page = types::WebhookSubscriptionListResponse {
            data: subscriptions
                .into_iter()
                .map(convert::subscription)
                .collect(),
            pagination,
            success: true,
        };
        Ok(headed(HttpResponseOk(page), admitted.rate_limit))
    })
    .await
}

pub async fn view(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookViewPath>,
) -> Result<Headed<HttpResponseOk<types::WebhookSubscriptionResponse>>, ApiError> {
    // Aura's path of the deliveries log, `/v1/webhooks/deliveries`, in a version before 5.1.0,
    // which did not serve it there (later versions dispatch it to `webhook_delivery_log`
    // before `view` runs): the answer then says where the log is.
    let aura_deliveries_path = versions::dispatched(&rqctx, 2, "deliveries");
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookViewPath { id } = path.into_inner().map_err(|error| {
            if aura_deliveries_path {
                Error::invalid_field(
                    "id",
                    "must be a UUID; the deliveries log is `GET /v1/webhook-deliveries`",
                )
            } else {
                error
            }
        })?;
        let subscription = app
            .store
            .webhook_subscription_get(admitted.caller.organization, id)
            .await?
            .ok_or(Error::WebhookNotFound)?;
        Ok(subscription_answer(subscription, admitted.rate_limit))
    })
    .await
}

pub async fn delete(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookDeletePath>,
) -> Result<Headed<HttpResponseUpdatedNoContent>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookDeletePath { id } = path.into_inner()?;
        if !app
            .store
            .webhook_subscription_delete(admitted.caller.organization, id)
            .await?
        {
            return Err(Error::WebhookNotFound);
        }
        Ok(headed(HttpResponseUpdatedNoContent(), admitted.rate_limit))
    })
    .await
}

pub async fn enable(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookEnablePath>,
) -> Result<Headed<HttpResponseOk<types::WebhookSubscriptionResponse>>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookEnablePath { id } = path.into_inner()?;
        let subscription = app
            .store
            .webhook_subscription_enable(admitted.caller.organization, id)
            .await?
            .ok_or(Error::WebhookNotFound)?;
        Ok(subscription_answer(subscription, admitted.rate_limit))
    })
    .await
}

pub async fn rotate_secret(
    rqctx: RequestContext<AppContext>,
    path: PathParams<types::WebhookSecretRotatePath>,
) -> Result<Headed<HttpResponseOk<types::WebhookSecretRotatedResponse>>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookSecretRotatePath { id } = path.into_inner()?;
        let overlap = chrono::Duration::from_std(app.webhooks.secret_overlap)
            .map_err(|_| Error::Internal("the secret overlap is out of range".to_string()))?;
        let previous_expires_at = domain::now()
            .checked_add_signed(overlap)
            .ok_or_else(|| Error::Internal("the secret overlap is out of range".to_string()))?;
        let secret = SigningSecret::generate();
        let sealed = app
            .webhooks
            .secrets
            .seal(id, &secret)
            .map_err(|error| Error::Internal(format!("sealing a signing secret: {error}")))?;
        let subscription = app
            .store
            .webhook_secret_rotate(
                admitted.caller.organization,
                id,
                sealed,
                previous_expires_at,
            )
            .await?
            .ok_or(Error::WebhookNotFound)?;
        let rotated = types::WebhookSecretRotatedResponse {
            data: convert::secret_rotated(subscription, &secret, previous_expires_at)?,
            success: true,
        };
        Ok(headed(HttpResponseOk(rotated), admitted.rate_limit))
    })
    .await
}

/// The deliveries log, at Aura's path (`webhook_delivery_log`); its alias
/// (`webhook_delivery_list`) takes the same parameters, widened to these.
pub async fn delivery_list(
    rqctx: RequestContext<AppContext>,
    query: Result<types::WebhookDeliveryLogQuery, Error>,
) -> Result<Headed<HttpResponseOk<types::WebhookDeliveryListResponse>>, ApiError> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let types::WebhookDeliveryLogQuery {
            cursor,
            limit,
            subscription_id,
        } = query?;
        let organization = admitted.caller.organization;
        let after = cursor.map(|c| cursor::decode(&c)).transpose()?;
        if let Some(subscription) = subscription_id {
            app.store
                .webhook_subscription_get(organization, subscription)
                .await?
                .ok_or(Error::WebhookNotFound)?;
        }
        let limit = limit.get();
        let deliveries = app
            .store
            .webhook_delivery_list(organization, subscription_id, after, limit + 1)
            .await?;
        let (deliveries, pagination) = page(deliveries, limit, domain::Delivery::keyset);
        let page = types::WebhookDeliveryListResponse {
            data: deliveries
                .into_iter()
                .map(convert::delivery)
                .collect::<Result<_, _>>()?,
            pagination,
            success: true,
        };
        Ok(headed(HttpResponseOk(page), admitted.rate_limit))
    })
    .await
}

/// The answer of an operation that answers with one subscription (its secret never).
fn subscription_answer(
    subscription: Subscription,
    standing: RateLimitStatus,
) -> Headed<HttpResponseOk<types::WebhookSubscriptionResponse>> {
    let response = types::WebhookSubscriptionResponse {
        data: convert::subscription(subscription),
        success: true,
    };
    headed(HttpResponseOk(response), standing)
}
