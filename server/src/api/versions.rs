//! Serving every supported version at once: which version a request is served in, the
//! headers that name it on the answer, and each version's schemas.
//!
//! - **Which version.** A request names one in its `api-version` header (the generated
//!   clients send their spec's `info.version`); without it, the newest. A version the server
//!   serves is served as itself. One it does not serve is served by the newest served version
//!   of the same major that is at least as new, which by semver keeps its promises (a `5.0.0`
//!   client is served by `5.2.0`). Anything else, or a version on or past its sunset day, is
//!   refused with `400` in the envelope, naming the versions served.
//! - **The answer names it.** Every answer of a served version carries `api-version`, and,
//!   when the support policy announces them, `Deprecation` (RFC 9745) and `Sunset`
//!   (RFC 8594).
//! - **dropshot's part.** [`Policy`] gives dropshot the version to route by. dropshot answers
//!   a policy error with its own body, not the envelope, so the policy never fails: it routes
//!   a refused request as the newest version, and [`serve`], which every endpoint goes
//!   through, refuses it in the envelope.
//! - **Schemas.** Each version validates requests against its own schemas, and renders its own
//!   document with them ([`openapi_schema`]), also for the wire types it shares with newer
//!   versions.

use std::cell::Cell;
use std::future::Future;
use std::sync::OnceLock;

use chrono::NaiveDate;
use dropshot::{
    ApiEndpointResponse, Body, DynamicVersionPolicy, HttpError, HttpResponse, RequestContext,
    ServerContext, SharedExtractor,
};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use schemars::schema::Schema;
use serde_json::{Map, Value};

use super::answer::{Answer, envelope};
use super::error::ApiError;
use super::generated::SERVED_VERSIONS;
use super::observe::{Observation, Observed};
use crate::error::{Error, FieldProblem};

/// The request header naming the version to serve, and the answer's header naming the one
/// served.
pub const API_VERSION: HeaderName = HeaderName::from_static("api-version");

/// `Deprecation` (RFC 9745).
const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");

/// `Sunset` (RFC 8594).
const SUNSET: HeaderName = HeaderName::from_static("sunset");

/// One served version, as the generator writes it from the spec and the support policy.
#[derive(Debug)]
pub struct ServedVersion {
    pub version: &'static str,
    /// `YYYY-MM-DD`: from this day the version is deprecated.
    pub deprecated: Option<&'static str>,
    /// `YYYY-MM-DD`: from this day the version is no longer served.
    pub sunset: Option<&'static str>,
    /// The operations served through another's endpoint, whose paths dropshot's router
    /// cannot hold (`xtask/src/generate/server/dispatch.rs`): its rendered document lacks them.
    pub dispatched: &'static [&'static str],
    /// The version's schemas as its spec writes them (OpenAPI 3.0), by name.
    pub openapi_schemas: &'static str,
    /// The same, as JSON Schema 2020-12: what its requests are validated against.
    pub json_schemas: &'static str,
    /// The version's spec, as its YAML file.
    pub document: &'static str,
}

/// A served version, read once.
struct Entry {
    number: semver::Version,
    sunset: Option<NaiveDate>,
    /// `api-version`, and `Deprecation` and `Sunset` when announced.
    headers: HeaderMap,
}

/// Every served version, read once; what the generator wrote is checked by [`check`] when
/// the server starts and by the tests, so reading it here cannot fail afterwards.
fn entries() -> Result<&'static [Entry], Error> {
    static ENTRIES: OnceLock<Result<Vec<Entry>, String>> = OnceLock::new();
    ENTRIES
        .get_or_init(|| SERVED_VERSIONS.iter().map(entry).collect())
        .as_deref()
        .map_err(|error| Error::Internal(format!("the served versions: {error}")))
}

fn entry(served: &ServedVersion) -> Result<Entry, String> {
    let number = semver::Version::parse(served.version)
        .map_err(|error| format!("`{}` is not a version: {error}", served.version))?;
    let date = |text: Option<&str>| {
        text.map(|text| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|error| format!("{}: `{text}` is not a date: {error}", served.version))
        })
        .transpose()
    };
    let (deprecated, sunset) = (date(served.deprecated)?, date(served.sunset)?);
    let mut headers = HeaderMap::new();
    let value = |text: String| {
        HeaderValue::from_str(&text).map_err(|error| format!("{}: {error}", served.version))
    };
    headers.insert(API_VERSION, value(served.version.to_string())?);
    if let Some(day) = deprecated {
        // A structured-field date: seconds since the epoch, at the start of the day (UTC).
        let seconds = day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
        headers.insert(DEPRECATION, value(format!("@{seconds}"))?);
    }
    if let Some(day) = sunset {
        let time = day.and_time(chrono::NaiveTime::MIN).and_utc();
        headers.insert(
            SUNSET,
            value(time.format("%a, %d %b %Y %H:%M:%S GMT").to_string())?,
        );
    }
    Ok(Entry {
        number,
        sunset,
        headers,
    })
}

/// Checks what the generator wrote of the served versions: numbers, dates, schemas.
pub fn check() -> Result<(), String> {
    entries().map_err(|error| error.to_string())?;
    for version in 0..SERVED_VERSIONS.len() {
        schemas(version).map_err(|error| error.to_string())?;
    }
    Ok(())
}

/// The index of the newest served version in [`SERVED_VERSIONS`].
pub fn newest() -> usize {
    SERVED_VERSIONS.len().saturating_sub(1)
}

/// The version (an index into [`SERVED_VERSIONS`]) a request with `headers` is served in, or
/// why it is refused.
pub fn requested(headers: &HeaderMap) -> Result<usize, Error> {
    let Some(value) = headers.get(&API_VERSION) else {
        return Ok(newest());
    };
    let entries = entries()?;
    let text = value.to_str().unwrap_or_default().trim();
    let Ok(asked) = semver::Version::parse(text) else {
        return Err(refusal(
            &format!("api-version must be a version such as {}", newest_number()),
            entries,
        ));
    };
    let today = crate::domain::now().date_naive();
    let mut served = entries.iter().enumerate().filter(|(_, entry)| {
        entry.number == asked
            || (entry.number.major == asked.major
                && entry.number > asked
                && asked.pre.is_empty()
                && entry.number.pre.is_empty())
    });
    // The exact version first, else the newest that keeps its promises.
    let chosen = served
        .clone()
        .find(|(_, entry)| entry.number == asked)
        .or_else(|| served.next_back());
    match chosen {
        Some((_, entry)) if entry.sunset.is_some_and(|sunset| today >= sunset) => Err(refusal(
            &format!(
                "api-version {text} was sunset on {}",
                entry.sunset.map(|day| day.to_string()).unwrap_or_default()
            ),
            entries,
        )),
        Some((index, _)) => Ok(index),
        None => Err(refusal(
            &format!("api-version {text} is not served"),
            entries,
        )),
    }
}

/// The version a request with `headers` is read in: the one it is served in, or the newest
/// when it is refused (the refusal is answered by [`serve`]).
pub fn read_in(headers: &HeaderMap) -> usize {
    requested(headers).unwrap_or_else(|_| newest())
}

fn newest_number() -> &'static str {
    SERVED_VERSIONS
        .last()
        .map(|served| served.version)
        .unwrap_or_default()
}

/// The `400` for a version the server does not serve: why, and the versions it does.
fn refusal(why: &str, entries: &[Entry]) -> Error {
    let today = crate::domain::now().date_naive();
    let served: Vec<String> = entries
        .iter()
        .filter(|entry| entry.sunset.is_none_or(|sunset| today < sunset))
        .map(|entry| entry.number.to_string())
        .collect();
    let message = format!(
        "{why}; this server serves {} (send one, or no api-version for the newest)",
        served.join(", ")
    );
    Error::Validation {
        message: format!("Invalid header: {message}"),
        details: vec![FieldProblem::new(API_VERSION.as_str(), message)],
    }
}

/// What dropshot routes a request by: the version it is served in, or the newest when it is
/// refused, so that [`serve`] answers the refusal in the envelope.
#[derive(Debug)]
pub struct Policy;

impl DynamicVersionPolicy for Policy {
    fn request_extract_version(
        &self,
        request: &http::Request<Body>,
        _log: &slog::Logger,
    ) -> Result<semver::Version, HttpError> {
        let entries =
            entries().map_err(|error| HttpError::for_internal_error(error.to_string()))?;
        entries
            .get(read_in(request.headers()))
            .map(|entry| entry.number.clone())
            .ok_or_else(|| HttpError::for_internal_error("no version is served".to_string()))
    }
}

/// An answer served in a version: the handler's answer (or error) with the headers naming the
/// version, or the refusal of a version the server does not serve. dropshot documents it as
/// the handler's answer `R`.
#[derive(Debug)]
pub struct Served<R> {
    answer: Result<R, ApiError>,
    /// The version served (an index into [`SERVED_VERSIONS`]).
    version: usize,
    headers: HeaderMap,
    /// Finished once the answer's status is known.
    observation: Observation,
}

/// Serves a request of `operation` through `handler` in the version it names, or refuses
/// it; what every generated endpoint does.
pub async fn serve<C, R, F, Fut>(
    rqctx: RequestContext<C>,
    operation: &'static str,
    handler: F,
) -> Result<Served<R>, ApiError>
where
    C: Observed,
    F: FnOnce(RequestContext<C>) -> Fut,
    Fut: Future<Output = Result<R, ApiError>>,
{
    let observation = Observation::start(&rqctx, operation);
    let version = requested(rqctx.request.headers()).and_then(|index| {
        let entries = entries()?;
        entries
            .get(index)
            .map(|entry| (index, entry.headers.clone()))
            .ok_or_else(|| Error::Internal("no version is served".to_string()))
    });
    let (version, headers) = match version {
        Ok(served) => served,
        Err(error) => {
            return Ok(Served {
                answer: Err(ApiError::new(error, &rqctx.request_id)),
                version: newest(),
                headers: HeaderMap::new(),
                observation,
            });
        }
    };
    // A handler's error is answered here too, in the envelope, so that it names the version
    // like any other answer (the handler logged an internal error's detail when it made it).
    Ok(Served {
        answer: observation.within(handler(rqctx)).await,
        version,
        headers,
        observation,
    })
}

/// Whether segment `index` of the request's path is `literal`: the request is for the
/// operation the generated endpoint dispatches to (`xtask/src/generate/server/dispatch.rs`).
pub fn dispatched<C: ServerContext>(
    rqctx: &RequestContext<C>,
    index: usize,
    literal: &str,
) -> bool {
    rqctx
        .request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .nth(index)
        == Some(literal)
}

/// `405 Method Not Allowed` for a method the path of the request does not serve, where the
/// generated interface routes it rather than dropshot's router (a dispatched literal path:
/// `xtask/src/generate/server/dispatch.rs`): the router's body, and `Allow` naming `allow`.
pub fn method_not_allowed<C: Observed, T>(
    rqctx: &RequestContext<C>,
    allow: &'static str,
) -> Result<Served<Answer<T>>, ApiError> {
    let body = serde_json::json!({
        "request_id": rqctx.request_id,
        "message": "Method Not Allowed",
    });
    let response = Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .header(http::header::ALLOW, allow)
        .header(http::header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON)
        .body(Body::from(body.to_string()))
        .map_err(|error| ApiError::new(Error::Internal(error.to_string()), &rqctx.request_id))?;
    Ok(Served {
        answer: Ok(Answer::Dispatched(response)),
        version: newest(),
        headers: HeaderMap::new(),
        observation: Observation::start(rqctx, "method_not_allowed"),
    })
}

/// The parameters of the operation an endpoint dispatches to, read as its own endpoint would.
pub async fn shared<T: SharedExtractor, C: ServerContext>(
    rqctx: &RequestContext<C>,
) -> Result<T, ApiError> {
    Ok(T::from_request(rqctx).await?)
}

impl<R: HttpResponse + Send + Sync + 'static> HttpResponse for Served<R> {
    fn to_result(self) -> Result<Response<Body>, HttpError> {
        let version = self.version;
        let answer = answering(version, || match self.answer {
            Ok(answer) => answer.to_result(),
            Err(error) => envelope(&error, HeaderMap::new()),
        });
        let number = SERVED_VERSIONS
            .get(version)
            .map(|served| served.version)
            .unwrap_or_default();
        let status = match &answer {
            Ok(response) => response.status(),
            Err(error) => error.status_code.as_status(),
        };
        self.observation.finish(status, number);
        let mut response = answer?;
        response.headers_mut().extend(self.headers);
        Ok(response)
    }

    fn response_metadata() -> ApiEndpointResponse {
        R::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        match &self.answer {
            Ok(answer) => answer.status_code(),
            Err(error) => dropshot::HttpResponseError::status_code(error).as_status(),
        }
    }
}

thread_local! {
    /// The version whose answer is being built on this thread.
    static ANSWERING: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Builds an answer with `build` in version `version`: every error envelope it holds is that
/// version's ([`envelope_in_answered_version`]), however deep in the answer it is made.
fn answering<T>(version: usize, build: impl FnOnce() -> T) -> T {
    in_version(&ANSWERING, version, build)
}

/// The envelope of `error` as the version being answered writes it (the newest outside
/// [`answering`]): without the properties its `ErrorResponse` lacks, which later versions
/// added, as its clients parse a closed envelope.
pub fn envelope_in_answered_version(error: &ApiError) -> Result<Vec<u8>, HttpError> {
    let version = ANSWERING.with(Cell::get).min(newest());
    let mut body = serde_json::to_value(error)
        .map_err(|error| HttpError::for_internal_error(error.to_string()))?;
    let known = schemas(version)
        .ok()
        .and_then(|schemas| schemas.json.get("ErrorResponse"))
        .and_then(|schema| schema.get("properties"))
        .and_then(Value::as_object);
    if let (Some(body), Some(known)) = (body.as_object_mut(), known) {
        body.retain(|name, _| known.contains_key(name));
    }
    serde_json::to_vec(&body).map_err(|error| HttpError::for_internal_error(error.to_string()))
}

/// Each version's schemas, parsed once: as the spec writes them, and compiled validators.
pub struct Schemas {
    pub openapi: Map<String, Value>,
    pub json: Map<String, Value>,
}

/// The schemas of version `version` (an index into [`SERVED_VERSIONS`]).
pub fn schemas(version: usize) -> Result<&'static Schemas, Error> {
    static SCHEMAS: OnceLock<Vec<Result<Schemas, String>>> = OnceLock::new();
    let all = SCHEMAS.get_or_init(|| {
        SERVED_VERSIONS
            .iter()
            .map(|served| {
                let parse = |text: &str| {
                    serde_json::from_str::<Map<String, Value>>(text)
                        .map_err(|error| format!("{}: {error}", served.version))
                };
                Ok(Schemas {
                    openapi: parse(served.openapi_schemas)?,
                    json: parse(served.json_schemas)?,
                })
            })
            .collect()
    });
    match all.get(version) {
        Some(Ok(schemas)) => Ok(schemas),
        Some(Err(error)) => Err(Error::Internal(format!("the spec's schemas: {error}"))),
        None => Err(Error::Internal(format!("no served version {version}"))),
    }
}

thread_local! {
    /// The version whose document is being rendered on this thread.
    static RENDERING: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Runs `render` with every wire type showing the schema of version `version`.
pub fn rendering<T>(version: usize, render: impl FnOnce() -> T) -> T {
    in_version(&RENDERING, version, render)
}

/// Runs `run` with `current` set to `version`, then sets it back.
fn in_version<T>(
    current: &'static std::thread::LocalKey<Cell<usize>>,
    version: usize,
    run: impl FnOnce() -> T,
) -> T {
    let previous = current.with(|current| current.replace(version));
    let done = run();
    current.with(|current| current.set(previous));
    done
}

/// The schema `name` as the version being rendered writes it (the newest outside
/// [`rendering`]): what a wire type's `JsonSchema` shows.
pub fn openapi_schema(name: &str) -> Schema {
    let version = RENDERING.with(Cell::get);
    let version = if version < SERVED_VERSIONS.len() {
        version
    } else {
        newest()
    };
    // A type the rendered version lacks belongs to operations it does not serve, whose
    // endpoints dropshot still builds (and reads the path and query structs of) before it
    // leaves them out of that version's document: they are shown as the newest version has
    // them. Never false in practice: the conformance tests render every version.
    let of = |version| {
        schemas(version)
            .ok()
            .and_then(|schemas| schemas.openapi.get(name))
            .and_then(|schema| serde_json::from_value(schema.clone()).ok())
    };
    of(version)
        .or_else(|| of(newest()))
        .unwrap_or(Schema::Bool(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(version: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(version) = version {
            headers.insert(API_VERSION, HeaderValue::from_str(version).unwrap());
        }
        headers
    }

    #[test]
    fn what_the_generator_wrote_reads() {
        check().unwrap();
    }

    #[test]
    fn no_header_is_the_newest_and_each_served_version_is_itself() {
        assert_eq!(requested(&headers(None)).unwrap(), newest());
        for (index, served) in SERVED_VERSIONS.iter().enumerate() {
            assert_eq!(requested(&headers(Some(served.version))).unwrap(), index);
        }
    }

    /// A version the server does not serve, one patch past a served one, is served by the
    /// newest served version of its major that is at least as new, or refused if none is;
    /// a pre-release, never.
    #[test]
    fn an_unserved_version_is_served_by_a_newer_one_of_its_major() {
        let served: Vec<semver::Version> = SERVED_VERSIONS
            .iter()
            .map(|served| semver::Version::parse(served.version).unwrap())
            .collect();
        for version in &served {
            let asked = semver::Version::new(version.major, version.minor, version.patch + 1);
            let expected = served
                .iter()
                .enumerate()
                .filter(|(_, other)| other.major == asked.major && **other >= asked)
                .max_by(|a, b| a.1.cmp(b.1))
                .map(|(index, _)| index);
            let got = requested(&headers(Some(&asked.to_string()))).ok();
            assert_eq!(got, expected, "{asked}");
            let pre_release = format!("{}.{}.{}-rc.1", version.major, version.minor, version.patch);
            assert!(
                requested(&headers(Some(&pre_release))).is_err(),
                "{pre_release}"
            );
        }
    }

    #[test]
    fn other_versions_are_refused_naming_the_served_ones() {
        let newest = semver::Version::parse(newest_number()).unwrap();
        let newer = format!("{}.0.0", newest.major + 1);
        let minor_newer = format!("{}.{}.0", newest.major, newest.minor + 1);
        for asked in [newer.as_str(), minor_newer.as_str(), "0.1.0", "five", ""] {
            let Err(Error::Validation { message, details }) = requested(&headers(Some(asked)))
            else {
                panic!("{asked} was served");
            };
            assert!(message.contains(newest_number()), "{message}");
            assert_eq!(details[0].field, "api-version");
        }
    }

    #[test]
    fn every_version_answers_with_its_name() {
        let entries = entries().unwrap();
        for (entry, served) in entries.iter().zip(&SERVED_VERSIONS) {
            assert_eq!(entry.headers[&API_VERSION], served.version);
            assert_eq!(
                entry.headers.contains_key(&DEPRECATION),
                served.deprecated.is_some()
            );
            assert_eq!(entry.headers.contains_key(&SUNSET), served.sunset.is_some());
        }
    }

    #[test]
    fn deprecation_and_sunset_are_written_as_their_rfcs_say() {
        let served = ServedVersion {
            version: "1.0.0",
            deprecated: Some("2027-01-01"),
            sunset: Some("2027-06-30"),
            dispatched: &[],
            openapi_schemas: "{}",
            json_schemas: "{}",
            document: "",
        };
        let entry = entry(&served).unwrap();
        assert_eq!(entry.headers[&DEPRECATION], "@1798761600");
        assert_eq!(entry.headers[&SUNSET], "Wed, 30 Jun 2027 00:00:00 GMT");
        let bad = ServedVersion {
            sunset: Some("30/06/2027"),
            ..served
        };
        assert!(entry_error(&bad).contains("not a date"));
    }

    fn entry_error(served: &ServedVersion) -> String {
        match entry(served) {
            Ok(_) => String::new(),
            Err(error) => error,
        }
    }

    #[test]
    fn an_error_served_in_a_version_is_the_envelope_naming_the_version() {
        let headers = entries().unwrap()[newest()].headers.clone();
        let served: Served<dropshot::HttpResponseOk<()>> = Served {
            answer: Err(ApiError::new(Error::NotFound, "req-1")),
            version: newest(),
            headers,
            observation: Observation::detached("lead_view"),
        };
        assert_eq!(served.status_code(), StatusCode::NOT_FOUND);
        let response = served.to_result().unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[&API_VERSION], newest_number());
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/json"
        );
    }

    #[tokio::test]
    async fn each_version_answers_in_its_own_envelope() {
        use http_body_util::BodyExt;

        let holder = uuid::Uuid::now_v7();
        let taken = || {
            ApiError::new(
                Error::EmailTaken {
                    holder: Some(holder),
                },
                "req-1",
            )
        };
        let mut named_in = Vec::new();
        // A handler's error, and an error answer made inside its success (with headers).
        let answers = (0..SERVED_VERSIONS.len()).flat_map(|version| {
            let refused = Answer::<dropshot::HttpResponseOk<()>>::Refused {
                error: taken(),
                headers: HeaderMap::new(),
            };
            [(version, Err(taken())), (version, Ok(refused))]
        });
        for (version, answer) in answers {
            let served = Served {
                answer,
                version,
                headers: HeaderMap::new(),
                observation: Observation::detached("lead_create"),
            };
            let body = served.to_result().unwrap().into_body().collect().await;
            let body: Value = serde_json::from_slice(&body.unwrap().to_bytes()).unwrap();
            let definitions = schemas(version).unwrap().json.clone();
            let validators = super::super::validate::validators(&definitions).unwrap();
            let problems: Vec<String> = validators["ErrorResponse"]
                .iter_errors(&body)
                .map(|problem| problem.to_string())
                .collect();
            let number = SERVED_VERSIONS[version].version;
            assert_eq!(problems, Vec::<String>::new(), "{number}: {body}");
            if body.get("leadId").is_some() {
                assert_eq!(body["leadId"], holder.to_string());
                named_in.push(number);
            }
        }
        // The holder is named from 5.1.0, where the envelope has `leadId`, and not before.
        let expected: Vec<&str> = SERVED_VERSIONS
            .iter()
            .flat_map(|served| [served.version; 2])
            .filter(|number| {
                semver::Version::parse(number).unwrap() >= semver::Version::new(5, 1, 0)
            })
            .collect();
        assert_eq!(named_in, expected);
    }

    #[test]
    fn rendering_shows_the_version_s_schema_and_restores_the_newest() {
        let newest_schema = openapi_schema("ErrorResponse");
        for version in 0..SERVED_VERSIONS.len() {
            let shown = rendering(version, || openapi_schema("ErrorResponse"));
            let expected = schemas(version).unwrap().openapi["ErrorResponse"].clone();
            assert_eq!(shown, serde_json::from_value::<Schema>(expected).unwrap());
        }
        assert_eq!(openapi_schema("ErrorResponse"), newest_schema);
    }
}
