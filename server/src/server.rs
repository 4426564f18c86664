//! Starting a server: the store, the API description, dropshot and the front door before it,
//! wired together.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};

use anyhow::{Result, anyhow};
use async_trait::async_trait;
use dropshot::{ConfigDropshot, HandlerTaskMode, HttpServer, ServerBuilder, VersionPolicy};
use tokio::sync::Semaphore;

use crate::api::{LeadsServer, idempotency, leads_api_mod, versions};
use crate::auth::Authenticator;
use crate::config::{Config, Database, MAX_BODY_BYTES};
use crate::connections::{ClientAddresses, FrontDoor};
use crate::context::AppContext;
use crate::domain::Events;
use crate::metrics::listener::{MetricsListener, Refresh};
use crate::metrics::{self, HttpMetrics, Outbox, Refusals, Register, Registry};
use crate::ratelimit::RateLimiter;
use crate::reference::References;
use crate::store::Store;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::{SqliteStore, Synchronous};
use crate::webhooks::Webhooks;
use crate::webhooks::payload::Payloads;

/// Opens `database`, creating (an SQLite file) and migrating it if needed, with every
/// connection the store will use open; lead writes store their webhook events in the wire
/// format ([`Payloads`]). An SQLite file commits as durably as `synchronous` says. Blocks on
/// file I/O for SQLite: call it before serving.
pub async fn open_store(database: &Database, synchronous: Synchronous) -> Result<Arc<dyn Store>> {
    let events: Events = Arc::new(Payloads);
    let store: Arc<dyn Store> = match database {
        Database::Sqlite(path) => {
            let store = SqliteStore::open_with(path, events, synchronous)?;
            store.open_readers().await?;
            Arc::new(store)
        }
        Database::Postgres(url) => PostgresStore::connect(url, events).await.map(Arc::new)?,
    };
    Ok(store)
}

/// A running server: the front door on the public address, dropshot behind it, and the
/// metrics on an address of their own if asked for.
pub struct Running {
    front_door: FrontDoor,
    http: HttpServer<AppContext>,
    metrics: Option<MetricsListener>,
}

impl Running {
    /// The public address.
    pub fn local_addr(&self) -> SocketAddr {
        self.front_door.local_addr()
    }

    /// The metrics' address, if they are served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsListener::local_addr)
    }

    /// Stops accepting connections at once, then finishes the requests in flight.
    pub async fn close(self) -> Result<(), String> {
        self.front_door.close().await;
        if let Some(metrics) = self.metrics {
            metrics.close().await?;
        }
        self.http.close().await
    }
}

/// Starts serving `store` on `config.bind`, logging as `config` says; the returned server
/// runs until closed.
pub fn start(config: &Config, store: Arc<dyn Store>) -> Result<Running> {
    let log = crate::log::logger(&config.log_level, config.log_format);
    start_with_log(config, store, log)
}

/// [`start`], logging to `log`: the process's own, which has told of start-up already.
pub fn start_with_log(
    config: &Config,
    store: Arc<dyn Store>,
    log: slog::Logger,
) -> Result<Running> {
    let http_metrics = config.metrics_bind.map(|_| HttpMetrics::default());
    let refusals = Refusals::default();
    // First, so that a taken address fails the start before anything else has begun.
    let door = FrontDoor::bind(config.bind, config.connections, refusals.clone(), &log)?;
    let api = leads_api_mod::api_description::<LeadsServer>()
        .map_err(|error| anyhow!("the API description does not build: {error}"))?;
    versions::check().map_err(|error| anyhow!("the served versions: {error}"))?;
    tokio::spawn(idempotency::sweep_expired(
        Arc::downgrade(&store),
        log.new(slog::o!("task" => "idempotency-sweep")),
    ));
    let metrics = match config.metrics_bind {
        Some(bind) => {
            let mut registry = Registry::with_prefix(metrics::PREFIX);
            if let Some(http_metrics) = &http_metrics {
                http_metrics.register(&mut registry);
            }
            refusals.register(&mut registry);
            store.register_metrics(&mut registry);
            config.webhooks.metrics.register(&mut registry);
            let outbox = Outbox::default();
            outbox.register(&mut registry);
            let refresh = Arc::new(OutboxState {
                store: Arc::downgrade(&store),
                outbox,
                log: log.new(slog::o!("task" => "metrics")),
            });
            Some(MetricsListener::start(bind, registry, refresh, &log)?)
        }
        None => None,
    };
    let webhooks = Webhooks::start(&store, config.webhooks.clone(), log.clone());
    let clients = ClientAddresses::default();
    let context = AppContext {
        clients: clients.clone(),
        limiter: RateLimiter::for_store(&store, config.rate_limits),
        store,
        authenticator: Authenticator::new(config.rate_limits.unfamiliar_keys_per_address),
        idempotency: idempotency::InFlight::default(),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
        body_read_timeout: config.body_read_timeout,
        references: References::embedded()?,
        webhooks,
        metrics: http_metrics,
        refusals,
    };
    let dropshot = ConfigDropshot {
        // Only the front door connects here.
        bind_address: (Ipv4Addr::LOCALHOST, 0).into(),
        default_request_body_max_bytes: MAX_BODY_BYTES,
        // A request that has started changing data finishes even if its client goes away.
        default_handler_task_mode: HandlerTaskMode::Detached,
        ..ConfigDropshot::default()
    };
    let http = ServerBuilder::new(api, context, log)
        .config(dropshot)
        .version_policy(VersionPolicy::Dynamic(Box::new(versions::Policy)))
        .start()
        .map_err(|error| anyhow!("starting the HTTP server: {error}"))?;
    let front_door = door.open(http.local_addr(), clients)?;
    Ok(Running {
        front_door,
        http,
        metrics,
    })
}

/// The outbox's gauges, read from the store before each scrape.
struct OutboxState {
    store: Weak<dyn Store>,
    outbox: Outbox,
    log: slog::Logger,
}

#[async_trait]
impl Refresh for OutboxState {
    async fn refresh(&self) {
        let Some(store) = self.store.upgrade() else {
            return;
        };
        let now = crate::domain::now();
        match store.webhook_outbox_summary().await {
            Ok(summary) => {
                let oldest_age = summary
                    .oldest_pending
                    .and_then(|oldest| (now - oldest).to_std().ok())
                    .unwrap_or_default();
                self.outbox
                    .set(summary.pending, oldest_age, summary.disabled_subscriptions);
            }
            // The gauges keep their last values; the scrape still answers.
            Err(error) => slog::warn!(self.log, "reading the outbox for the metrics failed";
                "error" => %error),
        }
    }
}
