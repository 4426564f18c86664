//! The metrics' own listener (`--metrics-bind`): `GET /metrics` in the OpenMetrics text format,
//! without a key, on an address apart from the API's, so that what it shows (operations,
//! organizations' load, the outbox) is reachable only where the operator binds it. Anything
//! else there is `404`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use async_trait::async_trait;
use dropshot::{
    ApiDescription, Body, ConfigDropshot, HttpError, HttpServer, RequestContext, ServerBuilder,
    endpoint,
};
use http::Response;
use http::header::CONTENT_TYPE;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

/// The OpenMetrics text format's media type, which Prometheus asks for and reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Brings gauges read from elsewhere (the store) up to date before each scrape.
#[async_trait]
pub trait Refresh: Send + Sync {
    async fn refresh(&self);
}

struct Exposition {
    registry: Registry,
    refresh: Arc<dyn Refresh>,
}

/// The running listener.
pub struct MetricsListener(HttpServer<Exposition>);

impl MetricsListener {
    /// Serves `registry` on `bind`, calling `refresh` before each scrape.
    pub fn start(
        bind: SocketAddr,
        registry: Registry,
        refresh: Arc<dyn Refresh>,
        log: &slog::Logger,
    ) -> Result<Self> {
        let mut api = ApiDescription::new();
        api.register(metrics)
            .map_err(|error| anyhow!("the metrics endpoint: {error}"))?;
        let config = ConfigDropshot {
            bind_address: bind,
            ..ConfigDropshot::default()
        };
        let log = log.new(slog::o!("listener" => "metrics"));
        ServerBuilder::new(api, Exposition { registry, refresh }, log)
            .config(config)
            .start()
            .map(Self)
            .map_err(|error| anyhow!("listening for metrics on {bind}: {error}"))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    pub async fn close(self) -> Result<(), String> {
        self.0.close().await
    }
}

/// Every metric, as Prometheus scrapes them.
#[endpoint { method = GET, path = "/metrics" }]
async fn metrics(rqctx: RequestContext<Exposition>) -> Result<Response<Body>, HttpError> {
    let exposition = rqctx.context();
    exposition.refresh.refresh().await;
    let mut text = String::new();
    encode(&mut text, &exposition.registry)
        .map_err(|error| HttpError::for_internal_error(format!("encoding metrics: {error}")))?;
    Response::builder()
        .header(CONTENT_TYPE, OPENMETRICS)
        .body(Body::from(text))
        .map_err(|error| HttpError::for_internal_error(error.to_string()))
}
