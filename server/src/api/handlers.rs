//! The implementation of the generated `LeadsApi` trait: thin translations between the wire
//! and the domain, around admission (auth, rate limit) and the store.

use std::future::Future;

use dropshot::{
    HttpCodedResponse, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, RequestContext,
};

use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryParams};
use super::generated::{LeadsApi, RateLimitHeaders};
use super::raw::{RawResponse, Representation};
use super::unwind::caught;
use super::{convert, cursor, types};
use crate::auth::Caller;
use crate::context::{Admitted, AppContext};
use crate::domain;
use crate::error::Error;
use crate::ratelimit::RateLimitStatus;

/// The server: `LeadsApi` implemented on [`AppContext`].
pub enum LeadsServer {}

impl LeadsApi for LeadsServer {
    type Context = AppContext;

    async fn health_view(
        rqctx: RequestContext<AppContext>,
    ) -> Result<HttpResponseOk<types::HealthResponse>, ApiError> {
        caught(async { Ok(rqctx.context().store.health().await?) })
            .await
            .map_err(|error| api_error(&rqctx, error))?;
        Ok(HttpResponseOk(types::HealthResponse {
            data: types::Health {
                status: types::HealthStatus::Ok,
            },
            success: true,
        }))
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
        HttpResponseHeaders<HttpResponseOk<types::LeadListResponse>, RateLimitHeaders>,
        ApiError,
    > {
        authenticated(&rqctx, None, |app, caller| async move {
            let request = convert::list_request(query.into_inner()?)?;
            let limit = request.limit;
            // One more than asked tells whether another page follows.
            let mut leads = app
                .store
                .lead_list(
                    caller.organization,
                    request.filter,
                    request.after,
                    limit + 1,
                )
                .await?;
            let has_more = leads.len() > limit as usize;
            leads.truncate(limit as usize);
            let next_cursor = match leads.last() {
                Some(last) if has_more => Some(cursor::encode(last.keyset())),
                _ => None,
            };
            let data = leads
                .into_iter()
                .map(convert::lead)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(HttpResponseOk(types::LeadListResponse {
                data,
                pagination: types::Pagination {
                    has_more,
                    next_cursor,
                },
                success: true,
            }))
        })
        .await
    }

    async fn lead_create(
        rqctx: RequestContext<AppContext>,
        mut body: JsonBody<types::LeadCreate>,
    ) -> Result<
        HttpResponseHeaders<HttpResponseCreated<types::LeadResponse>, RateLimitHeaders>,
        ApiError,
    > {
        authenticated(&rqctx, body.admission(), |app, caller| async move {
            let (body, raw) = body.into_parts()?;
            let lead = convert::new_lead(body, &raw, caller.organization)?;
            let lead = app.store.lead_insert(lead, None).await?;
            Ok(HttpResponseCreated(lead_response(lead)?))
        })
        .await
    }

    async fn lead_view(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::LeadViewPath>,
    ) -> Result<HttpResponseHeaders<HttpResponseOk<types::LeadResponse>, RateLimitHeaders>, ApiError>
    {
        authenticated(&rqctx, None, |app, caller| async move {
            let path = path.into_inner()?;
            let lead = app
                .store
                .lead_get(caller.organization, path.id)
                .await?
                .ok_or(Error::NotFound)?;
            Ok(HttpResponseOk(lead_response(lead)?))
        })
        .await
    }

    async fn lead_update(
        rqctx: RequestContext<AppContext>,
        path: PathParams<types::LeadUpdatePath>,
        mut body: JsonBody<types::LeadUpdate>,
    ) -> Result<HttpResponseHeaders<HttpResponseOk<types::LeadResponse>, RateLimitHeaders>, ApiError>
    {
        authenticated(&rqctx, body.admission(), |app, caller| async move {
            let path = path.into_inner()?;
            let (body, raw) = body.into_parts()?;
            let changes = convert::changes(body, &raw)?;
            let lead = app
                .store
                .lead_update(caller.organization, path.id, changes, None, domain::now())
                .await?
                .ok_or(Error::NotFound)?;
            Ok(HttpResponseOk(lead_response(lead)?))
        })
        .await
    }
}

fn lead_response(lead: domain::Lead) -> Result<types::LeadResponse, Error> {
    Ok(types::LeadResponse {
        data: convert::lead(lead)?,
        success: true,
    })
}

/// Answers with a representation of the embedded spec: no key, no rate limit, `304` when the
/// caller's copy is current.
fn serve_reference(
    rqctx: &RequestContext<AppContext>,
    representation: impl FnOnce(&crate::reference::Reference) -> &Representation,
) -> Result<RawResponse, ApiError> {
    representation(&rqctx.context().reference)
        .answer(rqctx.request.headers())
        .map_err(|error| api_error(rqctx, error))
}

/// Runs `work` for an admitted caller and adds the rate-limit headers to its answer.
/// `admission` is the one a body extractor already decided (before reading the body); without
/// one, the request is admitted here.
async fn authenticated<'a, R, F, Fut>(
    rqctx: &'a RequestContext<AppContext>,
    admission: Option<Result<Admitted, Error>>,
    work: F,
) -> Result<HttpResponseHeaders<R, RateLimitHeaders>, ApiError>
where
    R: HttpCodedResponse,
    F: FnOnce(&'a AppContext, Caller) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
{
    let app = rqctx.context();
    let admission = match admission {
        Some(admission) => admission,
        None => caught(app.admit(&rqctx.request)).await,
    };
    let admitted = admission.map_err(|error| api_error(rqctx, error))?;
    let _in_flight = app.in_flight().map_err(|error| api_error(rqctx, error))?;
    let response = caught(work(app, admitted.caller))
        .await
        .map_err(|error| api_error(rqctx, error))?;
    let headers =
        rate_limit_headers(admitted.rate_limit).map_err(|error| api_error(rqctx, error))?;
    Ok(HttpResponseHeaders::new(response, headers))
}

/// The spec's rate-limit headers, filled with the rate-limit status. A struct literal, so that
/// a header added to the spec fails to compile here until it is filled.
fn rate_limit_headers(status: RateLimitStatus) -> Result<RateLimitHeaders, Error> {
    Ok(RateLimitHeaders {
        x_rate_limit_limit: status.limit.into(),
        x_rate_limit_remaining: status.remaining.into(),
        x_rate_limit_reset: i64::try_from(status.reset).map_err(|_| {
            Error::Internal(format!(
                "the rate-limit window ends past i64: {}",
                status.reset
            ))
        })?,
    })
}

/// The error answer to this request; internal errors are logged with their detail here.
fn api_error(rqctx: &RequestContext<AppContext>, error: Error) -> ApiError {
    let api_error = ApiError::new(error, &rqctx.request_id);
    if let Some(detail) = api_error.internal_detail() {
        slog::error!(rqctx.log, "internal error"; "detail" => detail);
    }
    api_error
}
