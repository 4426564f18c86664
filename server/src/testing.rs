//! A real Leads server in-process, for tests: this crate's, the contract suite's, the
//! benchmark's, and consumers' own (feature `testing`).
//!
//! [`TestServer::start`] opens a temporary database, creates an organization with an API key,
//! and serves the API on a free loopback port until the value is dropped. The database is an
//! SQLite file in a temporary directory, or, with `LEADS_TEST_BACKEND=postgres`, a database of
//! its own in the PostgreSQL server of `LEADS_TEST_POSTGRES_URL` ([`postgres`]): so a whole
//! suite runs on either backend unchanged. The builder sets the rate limits, the in-flight
//! cap, the body-read timeout and the log level; [`TestServer::fail_storage`] makes every
//! storage call fail, so that tests can see the `500` answers without breaking a database by
//! hand.
//!
//! ```ignore
//! use leads_server::testing::TestServer;
//!
//! let server = TestServer::start().await?;
//! // Send `Authorization: Bearer <server.api_key()>` to `server.base_url()`.
//! ```

pub mod postgres;
mod traces;

pub use traces::Traces;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use dropshot::ConfigLoggingLevel;

use crate::auth::MissingOrganization;
use crate::config::{Config, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, Database};
use crate::connections::ConnectionLimits;
use crate::domain::RetrySchedule;
use crate::ratelimit::Limits;
use crate::store::faulty::Faulty;
use crate::store::sqlite::Synchronous;
use crate::store::{KeyStore, RevokeOutcome, Store};
use crate::webhooks::WebhookConfig;
use crate::webhooks::target::TargetPolicy;
use crate::{auth, secrets, server};

/// The organization [`TestServer::start`] creates, whose key is [`TestServer::api_key`].
pub const ORGANIZATION: &str = "test";

/// The variable that chooses the backend of every [`TestServer`]: `sqlite` (the default) or
/// `postgres`.
pub const BACKEND_VARIABLE: &str = "LEADS_TEST_BACKEND";

/// Which kind of database a [`TestServer`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A file in a temporary directory.
    Sqlite,
    /// A database of its own in the server of `LEADS_TEST_POSTGRES_URL`.
    Postgres,
}

impl Backend {
    /// The backend [`BACKEND_VARIABLE`] names; SQLite if it is unset. An error if it names
    /// PostgreSQL while [`postgres::URL_VARIABLE`] names no server: asked for PostgreSQL, a
    /// suite must not run on SQLite instead.
    pub fn from_env() -> Result<Backend> {
        match std::env::var(BACKEND_VARIABLE).as_deref() {
            Err(std::env::VarError::NotPresent) | Ok("sqlite") => Ok(Backend::Sqlite),
            Ok("postgres") => match std::env::var_os(postgres::URL_VARIABLE) {
                Some(url) if !url.is_empty() => Ok(Backend::Postgres),
                _ => anyhow::bail!(
                    "{BACKEND_VARIABLE} is `postgres`, so {} must name a PostgreSQL server \
                     (`eval \"$(.ci/postgres)\"` starts a throwaway one)",
                    postgres::URL_VARIABLE
                ),
            },
            Ok(other) => {
                anyhow::bail!("{BACKEND_VARIABLE} is `{other}`: it must be `sqlite` or `postgres`")
            }
            Err(error) => anyhow::bail!("{BACKEND_VARIABLE}: {error}"),
        }
    }
}

/// Where a test server's data lives, removed when dropped.
enum Scratch {
    Directory {
        _dir: tempfile::TempDir,
    },
    Postgres {
        _database: postgres::ScratchDatabase,
    },
}

impl Scratch {
    async fn new(backend: Backend) -> Result<(Scratch, Database)> {
        Ok(match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().context("creating a temporary directory")?;
                let database = Database::Sqlite(dir.path().join("leads.db"));
                (Scratch::Directory { _dir: dir }, database)
            }
            Backend::Postgres => {
                let scratch = postgres::ScratchDatabase::create().await?;
                let database = Database::Postgres(scratch.url());
                (Scratch::Postgres { _database: scratch }, database)
            }
        })
    }
}

/// How a [`TestServer`] is set up.
#[derive(Clone, Debug)]
pub struct TestServerBuilder {
    /// `None`: the one [`BACKEND_VARIABLE`] names.
    backend: Option<Backend>,
    rate_limits: Limits,
    max_in_flight: usize,
    body_read_timeout: Duration,
    log_level: ConfigLoggingLevel,
    webhooks: WebhookConfig,
    connections: ConnectionLimits,
    metrics: bool,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        Self {
            backend: None,
            rate_limits: Limits::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            log_level: ConfigLoggingLevel::Error,
            webhooks: WebhookConfig::default(),
            connections: ConnectionLimits::default(),
            metrics: false,
        }
    }
}

impl TestServerBuilder {
    /// The kind of database (default: the one [`BACKEND_VARIABLE`] names, else SQLite).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The per-key and per-organization rate limits (default: Aura's, 100 and 1000 a minute).
    pub fn rate_limits(mut self, limits: Limits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// No rate limit a test could reach: for load and benchmarks.
    pub fn unlimited(self) -> Self {
        self.rate_limits(Limits {
            per_key: u32::MAX,
            per_organization: u32::MAX,
            unfamiliar_keys_per_address: 0,
        })
    }

    /// The most API requests in flight at once (default 64); `0` admits none, so that every
    /// request with a key is answered `503 SERVICE_UNAVAILABLE`, to test a client's handling
    /// of overload.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests;
        self
    }

    /// How long a request's body may take to arrive (default 10 s).
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// How webhooks are delivered (default: as documented, to public `https` targets only).
    pub fn webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Webhooks to a receiver in the test: loopback `http` targets allowed, and the retry
    /// schedule shrunk a hundredfold (10, 50 and 150 ms), so that a test sees every retry
    /// without waiting 21 seconds.
    pub fn webhooks_to_loopback(self) -> Self {
        self.webhooks(WebhookConfig {
            policy: TargetPolicy::Insecure,
            retry: RetrySchedule::new(
                RetrySchedule::documented()
                    .delays()
                    .iter()
                    .map(|delay| *delay / 100)
                    .collect(),
            ),
            ..WebhookConfig::default()
        })
    }

    /// How long a signing secret a rotation replaced still signs beside the new one (default
    /// 24 hours), keeping the rest of the webhooks' configuration: a test scales the overlap
    /// down to see it end.
    pub fn webhook_secret_overlap(mut self, overlap: Duration) -> Self {
        self.webhooks.secret_overlap = overlap;
        self
    }

    /// How many connections the server holds, from whom and for how long (default: as
    /// documented).
    pub fn connections(mut self, connections: ConnectionLimits) -> Self {
        self.connections = connections;
        self
    }

    /// Serves the metrics too, on a loopback port of their own ([`TestServer::metrics_url`]).
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// How much the server logs to stderr (default: errors only).
    pub fn log_level(mut self, level: ConfigLoggingLevel) -> Self {
        self.log_level = level;
        self
    }

    /// Starts the server on a new temporary database, with the organization
    /// [`ORGANIZATION`] and a key for it.
    pub async fn start(self) -> Result<TestServer> {
        let backend = match self.backend {
            Some(backend) => backend,
            None => Backend::from_env()?,
        };
        let (scratch, database) = Scratch::new(backend).await?;
        let config = Config {
            bind: ([127, 0, 0, 1], 0).into(),
            database,
            // A test's database lives and dies with it: no power loss to survive.
            sqlite_synchronous: Synchronous::Normal,
            rate_limits: self.rate_limits,
            max_in_flight: self.max_in_flight,
            body_read_timeout: self.body_read_timeout,
            log_level: self.log_level,
            log_format: crate::log::Format::Text,
            webhooks: self.webhooks,
            connections: self.connections,
            metrics_bind: self.metrics.then(|| ([127, 0, 0, 1], 0).into()),
        };
        let store = faulty(
            server::open_store(&config.database, config.sqlite_synchronous)
                .await
                .context("opening the temporary database")?,
        );
        secrets::at_start::check(store.as_ref(), &config.webhooks.secrets).await?;
        let api_key = auth::create_key(store.as_ref(), ORGANIZATION, MissingOrganization::Create)
            .await
            .context("creating the test organization's key")?;
        let running = server::start(&config, store.clone())?;
        let bind = running.local_addr();
        Ok(TestServer {
            base_url: format!("http://{bind}"),
            api_key,
            store,
            running,
            config: Config { bind, ..config },
            _scratch: scratch,
        })
    }
}

/// A Leads server serving on loopback from a temporary database; stops when dropped.
pub struct TestServer {
    base_url: String,
    api_key: String,
    /// The server's store, behind the switch of [`TestServer::fail_storage`].
    store: Arc<Faulty>,
    running: server::Running,
    /// How it was started, on the port it got.
    config: Config,
    /// Deleted when the server is dropped, after the server.
    _scratch: Scratch,
}

impl TestServer {
    /// A server with the default settings: see [`TestServerBuilder`].
    pub async fn start() -> Result<TestServer> {
        Self::builder().start().await
    }

    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// Where the server listens: `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where the metrics are scraped (`http://127.0.0.1:<port>/metrics`), if the server was
    /// built to serve them ([`TestServerBuilder::metrics`]).
    pub fn metrics_url(&self) -> Option<String> {
        self.running
            .metrics_addr()
            .map(|address| format!("http://{address}/metrics"))
    }

    /// The key of the organization [`ORGANIZATION`].
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A new key for the organization called `organization`, created if it does not exist:
    /// another name is another tenant, which sees none of the first one's leads.
    pub async fn create_key(&self, organization: &str) -> Result<String> {
        auth::create_key(
            self.store.as_ref(),
            organization,
            MissingOrganization::Create,
        )
        .await
        .with_context(|| format!("creating a key for `{organization}`"))
    }

    /// Revokes `key` (by its prefix, as `leads-server keys revoke` does): from its next
    /// request on, it is answered `401`.
    pub async fn revoke_key(&self, key: &str) -> Result<()> {
        match self
            .store
            .api_key_revoke(&auth::key_prefix(key), chrono::Utc::now())
            .await?
        {
            RevokeOutcome::Revoked(_) => Ok(()),
            other => anyhow::bail!("the key was not revoked: {other:?}"),
        }
    }

    /// The database the server runs on.
    pub fn database(&self) -> &Database {
        &self.config.database
    }

    /// From now on, every storage call fails as a broken database would (`true`), or works
    /// again (`false`). Requests that need storage then answer `500 INTERNAL_ERROR`.
    pub fn fail_storage(&self, failing: bool) {
        self.store.faults().set(failing);
    }

    /// From now on, every storage call panics (`true`), as a bug would, or works again
    /// (`false`). Requests answer `500 INTERNAL_ERROR` in the envelope; the server keeps
    /// serving.
    pub fn panic_in_storage(&self, panicking: bool) {
        self.store.faults().set_panicking(panicking);
    }

    /// Stops serving, after the requests in flight.
    pub async fn stop(self) -> Result<()> {
        self.running.close().await.map_err(anyhow::Error::msg)
    }

    /// Stops the server and starts a new one on the same database and port, as a restart
    /// would: whatever the old one held in memory (rate limits, caches, idempotency keys being
    /// answered) is gone, what it stored is not.
    pub async fn restart(self) -> Result<TestServer> {
        self.running.close().await.map_err(anyhow::Error::msg)?;
        drop(self.store);
        let store = faulty(
            server::open_store(&self.config.database, self.config.sqlite_synchronous)
                .await
                .context("reopening the temporary database")?,
        );
        // As a server starting does: the same keys, checked against what was sealed.
        secrets::at_start::check(store.as_ref(), &self.config.webhooks.secrets).await?;
        let running = server::start(&self.config, store.clone())?;
        Ok(TestServer {
            store,
            running,
            ..self
        })
    }
}

/// `store` behind a fault switch, as the tests' servers run it.
fn faulty(store: Arc<dyn Store>) -> Arc<Faulty> {
    Arc::new(Faulty::new(store))
}
