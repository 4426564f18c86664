//! Starting a server: the store, the API description, dropshot and the front door before it,
//! wired together.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Result, anyhow};
use dropshot::{ConfigDropshot, HandlerTaskMode, HttpServer, ServerBuilder, VersionPolicy};
use tokio::sync::Semaphore;

use crate::api::{LeadsServer, idempotency, leads_api_mod, versions};
use crate::auth::Authenticator;
use crate::config::{Config, Database, MAX_BODY_BYTES};
use crate::connections::{ClientAddresses, FrontDoor};
use crate::context::AppContext;
use crate::domain::Events;
use crate::ratelimit::RateLimiter;
use crate::reference::References;
use crate::store::Store;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::webhooks::Webhooks;
use crate::webhooks::payload::Payloads;

/// Opens `database`, creating (an SQLite file) and migrating it if needed, with every
/// connection the store will use open; lead writes store their webhook events in the wire
/// format ([`Payloads`]). Blocks on file I/O for SQLite: call it before serving.
pub async fn open_store(database: &Database) -> Result<Arc<dyn Store>> {
    let events: Events = Arc::new(Payloads);
    let store: Arc<dyn Store> = match database {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(path, events)?;
            store.open_readers().await?;
            Arc::new(store)
        }
        Database::Postgres(url) => PostgresStore::connect(url, events).await.map(Arc::new)?,
    };
    Ok(store)
}

/// A running server: the front door on the public address, dropshot behind it.
pub struct Running {
    front_door: FrontDoor,
    http: HttpServer<AppContext>,
}

impl Running {
    /// The public address.
    pub fn local_addr(&self) -> SocketAddr {
        self.front_door.local_addr()
    }

    /// Stops accepting connections at once, then finishes the requests in flight.
    pub async fn close(self) -> Result<(), String> {
        self.front_door.close().await;
        self.http.close().await
    }
}

/// Starts serving `store` on `config.bind`; the returned server runs until closed.
pub fn start(config: &Config, store: Arc<dyn Store>) -> Result<Running> {
    let log = crate::log::logger(&config.log_level, config.log_format);
    // First, so that a taken address fails the start before anything else has begun.
    let door = FrontDoor::bind(config.bind, config.connections, &log)?;
    let api = leads_api_mod::api_description::<LeadsServer>()
        .map_err(|error| anyhow!("the API description does not build: {error}"))?;
    versions::check().map_err(|error| anyhow!("the served versions: {error}"))?;
    tokio::spawn(idempotency::sweep_expired(
        Arc::downgrade(&store),
        log.new(slog::o!("task" => "idempotency-sweep")),
    ));
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
    Ok(Running { front_door, http })
}
