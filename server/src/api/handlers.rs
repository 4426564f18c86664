//! The implementation of the generated `LeadsApi` trait: thin translations between the wire
//! and the domain, around admission (auth, rate limit) and the store.

use dropshot::{
    HttpResponseAccepted, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk,
    HttpResponseUpdatedNoContent, RequestContext,
};
use http::StatusCode;

use super::admission::{Headed, RateLimitFields, api_error, authenticated, headed, refused};
use super::answer::Answer;
use super::convert::ListFrom;
use super::error::ApiError;
use super::extract::{HeaderParams, JsonBody, PathParams, QueryParams};
use super::generated::{
    LeadCreateHeaders, LeadHeaders, LeadsApi, RateLimitHeaders, v4_0_0, v5_0_0,
};
use super::raw::{RawResponse, Representation};
use super::unwind::caught;
use super::{convert, cursor, etag, idempotency, recovery, types, versions, webhooks};
use crate::context::AppContext;
use crate::domain;
use crate::error::Error;
use crate::ratelimit::RateLimitStatus;
use crate::store::{IdempotentAnswer, StoreError};

/// The server: `LeadsApi` implemented on [`AppContext`].
pub enum LeadsServer {}

impl LeadsApi for LeadsServer {
    type Context = AppContext;

    async fn health_view(
        rqctx: RequestContext<AppContext>,
    ) -> Result<Answer<HttpResponseOk<types::HealthResponse>>, ApiError> {
        let health = caught(async { Ok(rqctx.context().store.health().await?) }).await;
        Ok(match health {
            Ok(()) => Answer::Success(HttpResponseOk(types::HealthResponse {
                data: types::Health {
                    status: types::HealthStatus::Ok,
                },
                success: true,
            })),
            Err(error) => refused(&rqctx, error, None),
        })
    }

    async fn docs_view(rqctx: RequestContext<AppContext>) -> Result<RawResponse, ApiError> {
        serve_reference(&rqctx, |reference| &reference.html)
    }

    async fn openapi_json_view(rqctx: RequestContext<AppContext>) -> Result<RawResponse, ApiError> {
        serve_reference(&rqctx, |reference| &reference.json)
    }

    async fn openapi_yaml_view(rqctx: RequestContext<AppContext>) -> Result<RawResponse, ApiError> {
        serve_reference(&rqctx, |reference| &reference.yaml)
    }

    async fn lead_list(
        rqctx: RequestContext<AppContext>,
        query: QueryParams<types::LeadListQuery>,
    ) -> Result<
        Answer<HttpResponseHeaders<HttpResponseOk<types::LeadListResponse>, RateLimitHeaders>>,
        ApiError,
    > {
        list_leads(rqctx, query.into_inner()).await
    }

    /// 4.0.0's list has no `email` filter: the same list without it.
    async fn lead_list_v4_0_0(
        rqctx: RequestContext<AppContext>,
        query: QueryParams<v4_0_0::types::LeadListQuery>,
    ) -> Result<
        Answer<HttpResponseHeaders<HttpResponseOk<types::LeadListResponse>, RateLimitHeaders>>,
        ApiError,
    > {
        list_leads(rqctx, query.into_inner().and_then(convert::widen)).await
    }

    /// 5.0.0's list has no `email` filter: the same list without it.
    async fn lead_list_v5_0_0(
        rqctx: RequestContext<AppContext>,
        query: QueryParams<v5_0_0::types::LeadListQuery>,
    ) -> Result<
        Answer<HttpResponseHeaders<HttpResponseOk<types::LeadListResponse>, RateLimitHeaders>>,
        ApiError,
    > {
        list_leads(rqctx, query.into_inner().and_then(convert::widen)).await
    }

    async fn lead_create(
        rqctx: RequestContext<AppContext>,
        headers: HeaderParams<types::LeadCreateHeader>,
        mut body: JsonBody<types::LeadCreate>,
    ) -> Result<
        Answer<HttpResponseHeaders<HttpResponseCreated<types::LeadResponse>, LeadCreateHeaders>>,
        ApiError,
    > {
        authenticated(&rqctx, body.admission(), |app, admitted| async move {
            let types::LeadCreateHeader { idempotency_key } = headers.into_inner()?;
            let (body, raw) = body.into_parts()?;
            let organization = admitted.caller.organization;
            let lead = convert::new_lead(body, &raw, organization)?;
            let email = lead.email.clone();
            let refused = |error| app.lead_write_refused(organization, Some(&email), error);
            let created = |response, replayed| {
                Answer::Success(HttpResponseHeaders::new(
                    HttpResponseCreated(response),
                    create_headers(admitted.rate_limit, replayed),
                ))
            };
            let Some(key) = idempotency_key.map(String::from) else {
                let inserted = match app.insert_lead(lead, None).await {
                    Ok(inserted) => inserted,
                    Err(error) => return Err(refused(error).await),
                };
                return Ok(created(lead_response(inserted)?, false));
            };
            let fingerprint = idempotency::fingerprint("lead_create", &raw);
            let _claim = app.idempotency.claim(organization, &key)?;
            let now = domain::now();
            if let Some(kept) = app
                .store
                .idempotent_answer_find(organization, &key, now)
                .await?
            {
                return Ok(created(replay(&kept, &fingerprint)?, true));
            }
            let response = lead_response(lead.clone())?;
            let answer = IdempotentAnswer {
                organization,
                key: key.clone(),
                fingerprint,
                status: StatusCode::CREATED.as_u16(),
                body: serde_json::to_vec(&response)
                    .map_err(|error| Error::Internal(format!("serializing a lead: {error}")))?,
                created_at: now,
                expires_at: now + idempotency::KEPT_FOR,
            };
            match app.insert_lead(lead, Some(answer)).await {
                Ok(_) => Ok(created(response, false)),
                // Another server answered the same key meanwhile: answer as it did.
                Err(StoreError::IdempotencyKeyTaken) => {
                    let kept = app
                        .store
                        .idempotent_answer_find(organization, &key, now)
                        .await?
                        .ok_or_else(|| {
                            Error::Internal("a taken idempotency key has no answer".to_string())
                        })?;
                    Ok(created(replay(&kept, &fingerprint)?, true))
                }
                Err(error) => Err(refused(error).await),
            }
        })
        .await
    }

    async fn lead_view(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::LeadViewPath>,
        headers: HeaderParams<types::LeadViewHeader>,
    ) -> Result<
        Answer<HttpResponseHeaders<HttpResponseOk<types::LeadResponse>, LeadHeaders>>,
        ApiError,
    > {
        authenticated(&rqctx, None, |app, admitted| async move {
            let path = path.into_inner()?;
            let types::LeadViewHeader { if_none_match } = headers.into_inner()?;
            let lead = app
                .store
                .lead_get(admitted.caller.organization, path.id)
                .await?
                .ok_or(Error::NotFound)?;
            let etag = etag::lead_etag(lead.version);
            if if_none_match.is_some_and(|tags| etag::if_none_match_hits(tags.as_str(), &etag)) {
                return Ok(Answer::NotModified { etag });
            }
            lead_answer(lead, admitted.rate_limit)
        })
        .await
    }

    async fn lead_update(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::LeadUpdatePath>,
        headers: HeaderParams<types::LeadUpdateHeader>,
        mut body: JsonBody<types::LeadUpdate>,
    ) -> Result<
        Answer<HttpResponseHeaders<HttpResponseOk<types::LeadResponse>, LeadHeaders>>,
        ApiError,
    > {
        authenticated(&rqctx, body.admission(), |app, admitted| async move {
            let path = path.into_inner()?;
            let types::LeadUpdateHeader { if_match } = headers.into_inner()?;
            let (body, raw) = body.into_parts()?;
            let changes = convert::changes(body, &raw)?;
            let condition = if_match.map(|tags| etag::if_match_condition(tags.as_str()));
            let organization = admitted.caller.organization;
            let email = changes.email.clone();
            let lead = match app
                .update_lead(organization, path.id, changes, condition)
                .await
            {
                Ok(lead) => lead.ok_or(Error::NotFound)?,
                Err(error) => {
                    return Err(app
                        .lead_write_refused(organization, email.as_deref(), error)
                        .await);
                }
            };
            lead_answer(lead, admitted.rate_limit)
        })
        .await
    }

    async fn lead_delete(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::LeadDeletePath>,
        headers: HeaderParams<types::LeadDeleteHeader>,
    ) -> Result<Answer<HttpResponseHeaders<HttpResponseUpdatedNoContent, RateLimitHeaders>>, ApiError>
    {
        authenticated(&rqctx, None, |app, admitted| async move {
            let path = path.into_inner()?;
            let types::LeadDeleteHeader { if_match } = headers.into_inner()?;
            // `If-Match` means what it means to `PATCH`: only that version is deleted.
            let condition = if_match.map(|tags| etag::if_match_condition(tags.as_str()));
            if !app
                .delete_lead(admitted.caller.organization, path.id, condition)
                .await?
            {
                return Err(Error::NotFound);
            }
            Ok(headed(HttpResponseUpdatedNoContent(), admitted.rate_limit))
        })
        .await
    }

    async fn webhook_create(
        rqctx: RequestContext<AppContext>,
        body: JsonBody<types::WebhookSubscriptionCreate>,
    ) -> Result<Headed<HttpResponseCreated<types::WebhookSubscriptionCreatedResponse>>, ApiError>
    {
        webhooks::create(rqctx, body, webhooks::LimitAnswer::Conflict).await
    }

    /// 4.0.0 answered the subscription beyond the limit `400 VALIDATION_ERROR`.
    async fn webhook_create_v4_0_0(
        rqctx: RequestContext<AppContext>,
        body: JsonBody<types::WebhookSubscriptionCreate>,
    ) -> Result<Headed<HttpResponseCreated<types::WebhookSubscriptionCreatedResponse>>, ApiError>
    {
        webhooks::create(rqctx, body, webhooks::LimitAnswer::Validation).await
    }

    async fn webhook_list(
        rqctx: RequestContext<AppContext>,
        query: QueryParams<types::WebhookListQuery>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseOk<types::WebhookSubscriptionListResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        webhooks::list(rqctx, query).await
    }

    async fn webhook_view(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookViewPath>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseOk<types::WebhookSubscriptionResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        webhooks::view(rqctx, path).await
    }

    async fn webhook_delete(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookDeletePath>,
    ) -> Result<Answer<HttpResponseHeaders<HttpResponseUpdatedNoContent, RateLimitHeaders>>, ApiError>
    {
        webhooks::delete(rqctx, path).await
    }

    async fn webhook_enable(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookEnablePath>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseOk<types::WebhookSubscriptionResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        webhooks::enable(rqctx, path).await
    }

    async fn webhook_secret_rotate(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookSecretRotatePath>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseOk<types::WebhookSecretRotatedResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        webhooks::rotate_secret(rqctx, path).await
    }

    async fn webhook_delivery_list(
        rqctx: RequestContext<AppContext>,
        query: QueryParams<types::WebhookDeliveryListQuery>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseOk<types::WebhookDeliveryListResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        webhooks::delivery_list(rqctx, query.into_inner().and_then(convert::widen)).await
    }

    async fn webhook_delivery_attempt_list(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookDeliveryAttemptListPath>,
        query: QueryParams<types::WebhookDeliveryAttemptListQuery>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseOk<types::WebhookDeliveryAttemptListResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        recovery::attempt_list(rqctx, path, query).await
    }

    async fn webhook_delivery_resend(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookDeliveryResendPath>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseAccepted<types::WebhookDeliveryResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        recovery::resend(rqctx, path).await
    }

    async fn webhook_recover(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookRecoverPath>,
        body: JsonBody<types::WebhookRecover>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseAccepted<types::WebhookRecoveryResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        recovery::recover(rqctx, path, body).await
    }

    async fn webhook_test(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::WebhookTestPath>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseAccepted<types::WebhookDeliveryResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        recovery::test(rqctx, path).await
    }

    async fn webhook_delivery_log(
        rqctx: RequestContext<AppContext>,
        query: QueryParams<types::WebhookDeliveryLogQuery>,
    ) -> Result<
        Answer<
            HttpResponseHeaders<
                HttpResponseOk<types::WebhookDeliveryListResponse>,
                RateLimitHeaders,
            >,
        >,
        ApiError,
    > {
        webhooks::delivery_list(rqctx, query.into_inner()).await
    }
}

/// A page of leads, as `query` (or why it is invalid) asks, in any version.
async fn list_leads(
    rqctx: RequestContext<AppContext>,
    query: Result<types::LeadListQuery, Error>,
) -> Result<
    Answer<HttpResponseHeaders<HttpResponseOk<types::LeadListResponse>, RateLimitHeaders>>,
    ApiError,
> {
    authenticated(&rqctx, None, |app, admitted| async move {
        let request = convert::list_request(query?)?;
        let (organization, limit) = (admitted.caller.organization, request.limit);
        // One more than asked tells whether another page follows.
        let (leads, pagination) = match request.from {
            ListFrom::Created(after) => {
                let leads = app
                    .store
                    .lead_list(organization, request.filter, after, limit + 1)
                    .await?;
                cursor::page(leads, limit, domain::Lead::keyset)
            }
            ListFrom::Changed(after) => {
                let leads = app
                    .store
                    .lead_list_changed(organization, request.filter, after, limit + 1)
                    .await?;
                cursor::page_of_changes(leads, limit, after)
            }
        };
        let data = leads
            .into_iter()
            .map(convert::lead)
            .collect::<Result<Vec<_>, _>>()?;
        let page = types::LeadListResponse {
            data,
            pagination,
            success: true,
        };
        Ok(headed(HttpResponseOk(page), admitted.rate_limit))
    })
    .await
}

/// The answer of `lead_view` and `lead_update`: the lead, its version as the `ETag`.
fn lead_answer(
    lead: domain::Lead,
    standing: RateLimitStatus,
) -> Result<Answer<HttpResponseHeaders<HttpResponseOk<types::LeadResponse>, LeadHeaders>>, Error> {
    let RateLimitFields {
        limit,
        remaining,
        reset,
    } = standing.into();
    let headers = LeadHeaders {
        etag: etag::lead_etag(lead.version),
        x_rate_limit_limit: limit,
        x_rate_limit_remaining: remaining,
        x_rate_limit_reset: reset,
    };
    Ok(Answer::Success(HttpResponseHeaders::new(
        HttpResponseOk(lead_response(lead)?),
        headers,
    )))
}

/// The headers of a create's answer, first or `replayed`. Its `ETag` is the lead's first
/// version: a replay answers with the body of the create, whatever happened to the lead since.
fn create_headers(standing: RateLimitStatus, replayed: bool) -> LeadCreateHeaders {
    let RateLimitFields {
        limit,
        remaining,
        reset,
    } = standing.into();
    LeadCreateHeaders {
        etag: etag::lead_etag(domain::Lead::FIRST_VERSION),
        idempotent_replayed: replayed.then_some(true),
        x_rate_limit_limit: limit,
        x_rate_limit_remaining: remaining,
        x_rate_limit_reset: reset,
    }
}

/// The kept answer, if it answered this very request (`fingerprint`); else
/// `IDEMPOTENCY_KEY_REUSED`.
fn replay(kept: &IdempotentAnswer, fingerprint: &[u8; 32]) -> Result<types::LeadResponse, Error> {
    if kept.fingerprint != *fingerprint {
        return Err(Error::IdempotencyKeyReused);
    }
    if kept.status != StatusCode::CREATED.as_u16() {
        return Err(Error::Internal(format!(
            "a kept answer has status {}, and only 201s are kept",
            kept.status
        )));
    }
    serde_json::from_slice(&kept.body)
        .map_err(|error| Error::Internal(format!("a kept answer does not parse: {error}")))
}

fn lead_response(lead: domain::Lead) -> Result<types::LeadResponse, Error> {
    Ok(types::LeadResponse {
        data: convert::lead(lead)?,
        success: true,
    })
}

/// Answers with a representation of the spec of the version the request is served in: no
/// key, no rate limit, `304` when the caller's copy is current.
fn serve_reference(
    rqctx: &RequestContext<AppContext>,
    representation: impl FnOnce(&crate::reference::Reference) -> &Representation,
) -> Result<RawResponse, ApiError> {
    let headers = rqctx.request.headers();
    let reference = rqctx
        .context()
        .references
        .of_version(versions::read_in(headers))
        .ok_or_else(|| api_error(rqctx, Error::Internal("no reference".to_string())))?;
    representation(reference)
        .answer(headers)
        .map_err(|error| api_error(rqctx, error))
}
