//! `leads-server`: serve the Leads API, manage API keys, print the OpenAPI document.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use leads_server::auth::MissingOrganization;
use leads_server::config::{Config, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, Database};
use leads_server::connections::{
    ConnectionLimits, DEFAULT_FIRST_REQUEST_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PER_ADDRESS,
};
use leads_server::ratelimit::Limits;
use leads_server::secrets::at_start::{self, Started};
use leads_server::secrets::key_file::{self, KeySource, Loaded};
use leads_server::store::sqlite::Synchronous;
use leads_server::store::{RevokeOutcome, Store};
use leads_server::webhooks::target::{DEFAULT_ALLOWED_PORTS, TargetPolicy};
use leads_server::webhooks::{DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_SECRET_OVERLAP, WebhookConfig};
use leads_server::{api, auth, server};

#[derive(Parser)]
#[command(
    name = "leads-server",
    version,
    about = "The Leads API server, on SQLite or PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of `serve`, the default command.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default). On a new database, creates the organization `default`
    /// and prints an API key for it.
    Serve(ServeArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage the keys that seal webhook signing secrets at rest.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Print the OpenAPI document the server implements (rendered from its interface).
    Openapi,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Make a key file with a new key, or add a new key to one, first: from the next start
    /// on, it seals new secrets, and the others still unseal the old ones (then `rotate`).
    /// Prints the key's id, never the key.
    Generate {
        /// The key file (made readable by its owner only).
        key_file: PathBuf,
        /// Add the key last instead: it only unseals until moved first. For replicas, which
        /// must all hold a key before any seals with it.
        #[arg(long)]
        last: bool,
    },
    /// Reseal every webhook signing secret with the first key of the secrets key; the other
    /// keys then unseal nothing and may be removed. Safe while servers run, once every one
    /// holds that key.
    Rotate {
        #[command(flatten)]
        database: DatabaseArg,
        #[command(flatten)]
        secrets: SecretsKeyArg,
    },
}

#[derive(Args, Clone)]
struct SecretsKeyArg {
    /// The file of the keys that seal webhook signing secrets (base64, one a line: the first
    /// seals, every one unseals). Default: `<database>.key` beside an SQLite database, made on
    /// its first start. PostgreSQL needs this, or the keys themselves in LEADS_SECRETS_KEY,
    /// the same for every replica.
    #[arg(long, env = key_file::FILE_VARIABLE)]
    secrets_key_file: Option<PathBuf>,
}

impl SecretsKeyArg {
    /// Where the keys come from: the file, else `LEADS_SECRETS_KEY` (read from the
    /// environment only, never the command line, which other users may see), else the default.
    fn source(&self) -> Result<KeySource> {
        let variable = std::env::var(key_file::KEYS_VARIABLE).ok();
        match (&self.secrets_key_file, variable) {
            (Some(_), Some(_)) => bail!(
                "both --secrets-key-file (or {}) and {} are set: give the keys one way",
                key_file::FILE_VARIABLE,
                key_file::KEYS_VARIABLE
            ),
            (Some(path), None) => Ok(KeySource::File(path.clone())),
            (None, Some(keys)) => Ok(KeySource::Variable(keys)),
            (None, None) => Ok(KeySource::Default),
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an API key for an organization and print it. The key is shown only this once;
    /// the database keeps only its hash and its prefix.
    Create {
        /// The organization's name.
        #[arg(long)]
        org: String,
        /// Create the organization if it does not exist (without it, a name that names no
        /// organization is refused, so that a typo cannot create a stray one).
        #[arg(long)]
        create_org: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// List an organization's keys: prefix, creation, last use (to the minute) and whether
    /// revoked. Never the keys themselves.
    List {
        /// The organization's name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Revoke the key with this prefix (as `keys list` shows it) or id: it is answered `401`
    /// from its next request on, by running servers too.
    Revoke {
        /// The key's prefix, such as `aura_pk_live_AbCd1234`, or its id.
        prefix: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Args, Clone)]
struct DatabaseArg {
    /// The database: an SQLite file, created if missing, or a PostgreSQL database by its URL
    /// (`postgres://user:password@host:port/database`), which several servers may share.
    #[arg(long, env = "LEADS_DATABASE", default_value = "leads.db")]
    database: Database,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "LEADS_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    #[command(flatten)]
    database: DatabaseArg,
    /// When an SQLite file's commits reach the disk: `full` flushes each group commit before
    /// its writes are answered, so that a `201` survives a power loss; `normal` flushes at
    /// checkpoints only, faster, and a power loss may drop the last writes answered (a crash
    /// of the process loses nothing either way). Ignored on PostgreSQL.
    #[arg(long, env = "LEADS_SQLITE_SYNCHRONOUS", value_enum, default_value_t = SqliteSynchronous::Full)]
    sqlite_synchronous: SqliteSynchronous,
    #[command(flatten)]
    secrets: SecretsKeyArg,
    /// Requests a minute each API key may make.
    #[arg(long, env = "LEADS_RATE_LIMIT_PER_KEY", default_value_t = Limits::default().per_key)]
    rate_limit_per_key: u32,
    /// Requests a minute all keys of an organization may make together.
    #[arg(long, env = "LEADS_RATE_LIMIT_PER_ORG", default_value_t = Limits::default().per_organization)]
    rate_limit_per_org: u32,
    /// API keys not yet seen valid that one client address may present a minute (an IPv6
    /// client is counted by its /64); more are answered `429` without being looked up. `0`
    /// for no limit: behind a proxy, where every client shares its address, set `0` or more.
    #[arg(long, env = "LEADS_UNFAMILIAR_KEYS_PER_ADDRESS",
          default_value_t = Limits::default().unfamiliar_keys_per_address)]
    unfamiliar_keys_per_address: u32,
    /// The most API requests answered at once; more are answered `503 SERVICE_UNAVAILABLE`.
    #[arg(long, env = "LEADS_MAX_IN_FLIGHT", default_value_t = DEFAULT_MAX_IN_FLIGHT,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_in_flight: usize,
    /// Seconds a request's body may take to arrive before it is cut off.
    #[arg(long, env = "LEADS_BODY_READ_TIMEOUT", default_value_t = DEFAULT_BODY_READ_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout: u64,
    /// The most connections held at once (lowered at start to what the descriptor limit has
    /// room for, three descriptors each); beyond it, a connection that has not yet sent a
    /// request gives its place to a new one, or the new one is answered `503` and closed.
    #[arg(long, env = "LEADS_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_connections: usize,
    /// The most connections one client address holds at once (an IPv6 client counts by its
    /// /64); beyond it, `503` and closed. `0` for no limit: behind a proxy, where every client
    /// shares its address, set `0`.
    #[arg(long, env = "LEADS_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = DEFAULT_MAX_PER_ADDRESS,
          value_parser = clap::value_parser!(u32).map(|n| n as usize))]
    max_connections_per_address: usize,
    /// Seconds a new connection has to send the start of its first request before it is
    /// closed, whatever its protocol.
    #[arg(long, env = "LEADS_FIRST_REQUEST_TIMEOUT",
          default_value_t = DEFAULT_FIRST_REQUEST_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    first_request_timeout: u64,
    /// Seconds a connection may carry nothing either way (HTTP/1 and HTTP/2 alike) before it
    /// is closed.
    #[arg(long, env = "LEADS_IDLE_TIMEOUT", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Serve Prometheus metrics (`GET /metrics`, no key) on this address, apart from the API's
    /// port, e.g. `127.0.0.1:9090`. Off by default; bind it where only your monitoring reaches.
    #[arg(long, env = "LEADS_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// How much to log.
    #[arg(long, env = "LEADS_LOG_LEVEL", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
    /// How each log line is written: `text` for a console, `json` (one object a line) for a
    /// log pipeline.
    #[arg(long, env = "LEADS_LOG_FORMAT", value_enum, default_value_t = leads_server::log::Format::Text)]
    log_format: leads_server::log::Format,
    /// Let webhook subscriptions name `http` URLs and loopback or private addresses, for local
    /// development and tests. Never in production: it lets API callers make the server send
    /// requests into its own network.
    #[arg(long, env = "LEADS_WEBHOOKS_ALLOW_INSECURE_TARGETS")]
    webhooks_allow_insecure_targets: bool,
    /// The ports a webhook target may use, comma-separated (`443,8443,9443`). The insecure
    /// policy allows any port.
    #[arg(long, env = "LEADS_WEBHOOKS_ALLOWED_PORTS", value_delimiter = ',',
          default_values_t = DEFAULT_ALLOWED_PORTS.to_vec(),
          value_parser = clap::value_parser!(u16).range(1..))]
    webhooks_allowed_ports: Vec<u16>,
    /// How many webhook subscriptions each organization may have.
    #[arg(long, env = "LEADS_WEBHOOKS_MAX_SUBSCRIPTIONS", default_value_t = DEFAULT_MAX_SUBSCRIPTIONS)]
    webhooks_max_subscriptions: u32,
    /// Seconds a webhook receiver has to answer an attempt (at most Aura's 10); a delivery is
    /// leased for three times as long, so a process that dies while sending has its
    /// deliveries sent again that much later.
    #[arg(long, env = "LEADS_WEBHOOKS_TIMEOUT",
          default_value_t = leads_server::webhooks::delivery::TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=leads_server::webhooks::delivery::TIMEOUT.as_secs()))]
    webhooks_timeout: u64,
    /// Seconds a webhook signing secret replaced by a rotation still signs deliveries beside
    /// the new one (at most 30 days; 0: not at all).
    #[arg(long, env = "LEADS_WEBHOOKS_SECRET_OVERLAP",
          default_value_t = DEFAULT_SECRET_OVERLAP.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=MAX_SECRET_OVERLAP_SECS))]
    webhooks_secret_overlap: u64,
}

/// The longest overlap `--webhooks-secret-overlap` takes: 30 days, the time deliveries are
/// kept; a secret meant to outlive its replacement longer was not meant to be replaced.
const MAX_SECRET_OVERLAP_SECS: u64 = 30 * 24 * 3600;

#[derive(Clone, Copy, ValueEnum)]
enum SqliteSynchronous {
    Full,
    Normal,
}

impl From<SqliteSynchronous> for Synchronous {
    fn from(synchronous: SqliteSynchronous) -> Self {
        match synchronous {
            SqliteSynchronous::Full => Self::Full,
            SqliteSynchronous::Normal => Self::Normal,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LogLevel> for dropshot::ConfigLoggingLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => Self::Error,
            LogLevel::Warn => Self::Warn,
            LogLevel::Info => Self::Info,
            LogLevel::Debug => Self::Debug,
            LogLevel::Trace => Self::Trace,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Keys { command }) => keys(command).await,
        Some(Command::Secrets { command }) => secrets(command).await,
        Some(Command::Openapi) => print_openapi(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("leads-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let key_source = args.secrets.source()?;
    let mut config = Config {
        bind: args.bind,
        database: args.database.database,
        sqlite_synchronous: args.sqlite_synchronous.into(),
        rate_limits: Limits {
            per_key: args.rate_limit_per_key,
            per_organization: args.rate_limit_per_org,
            unfamiliar_keys_per_address: args.unfamiliar_keys_per_address,
        },
        max_in_flight: args.max_in_flight,
        body_read_timeout: Duration::from_secs(args.body_read_timeout),
        log_level: args.log_level.into(),
        log_format: args.log_format,
        webhooks: WebhookConfig {
            policy: if args.webhooks_allow_insecure_targets {
                TargetPolicy::Insecure
            } else {
                TargetPolicy::Public
            },
            allowed_ports: args.webhooks_allowed_ports,
            max_subscriptions: args.webhooks_max_subscriptions,
            secret_overlap: Duration::from_secs(args.webhooks_secret_overlap),
            timeout: Duration::from_secs(args.webhooks_timeout),
            ..WebhookConfig::default()
        },
        connections: ConnectionLimits {
            max_connections: args.max_connections,
            max_per_address: (args.max_connections_per_address > 0)
                .then_some(args.max_connections_per_address),
            first_request_timeout: Duration::from_secs(args.first_request_timeout),
            idle_timeout: Duration::from_secs(args.idle_timeout),
        },
        metrics_bind: args.metrics_bind,
    };
    // One log for the whole process, so that what start-up tells the operator is in the
    // format a log pipeline reads too.
    let log = leads_server::log::logger(&config.log_level, config.log_format);
    let store = open(&config.database, config.sqlite_synchronous).await?;
    let started = at_start::start(store.as_ref(), &key_source, &config.database)
        .await
        .context("the secrets key")?;
    report(&started, &log);
    config.webhooks.secrets = started.keys;
    let first_key = if store.is_empty().await? {
        Some(auth::create_key(store.as_ref(), "default", MissingOrganization::Create).await?)
    } else {
        None
    };
    let running = server::start_with_log(&config, store, log)?;
    let address = running.local_addr();
    println!(
        "leads-server: serving http://{address} (database {})",
        config.database
    );
    if let Some(metrics) = running.metrics_addr() {
        println!("leads-server: metrics at http://{metrics}/metrics");
    }
    if let Some(key) = first_key {
        println!(
            "\nA new database: created the organization `default` and its API key (shown only \
             now; `leads-server keys create --org NAME` makes more):\n\n    {key}\n\n\
             Try it:\n\n    curl -X POST http://{address}/v1/leads \\\n      \
             -H 'Authorization: Bearer {key}' \\\n      \
             -H 'Content-Type: application/json' \\\n      \
             -d '{{\"email\": \"john@example.com\"}}'\n"
        );
    }
    shutdown_signal().await;
    println!("leads-server: shutting down; finishing requests in flight");
    running
        .close()
        .await
        .map_err(|error| anyhow::anyhow!("shutting down: {error}"))
}

/// Tells the operator, on stderr, what starting did with the secrets key: never a key.
fn report(started: &Started, log: &slog::Logger) {
    match &started.loaded {
        Loaded::Created(path) => slog::info!(log,
            "made the secrets key file (the key that seals webhook signing secrets): keep it \
             with the database, and back it up with it";
            "path" => %path.display()),
        Loaded::Read(path) if key_file::readable_by_others(path) => slog::warn!(log,
            "other users may read the secrets key file: `chmod 600` it";
            "path" => %path.display()),
        Loaded::Read(_) | Loaded::Variable => {}
    }
    if started.sealed > 0 {
        slog::info!(log, "sealed webhook signing secrets stored in plain text";
            "sealed" => started.sealed);
    }
}

async fn secrets(command: SecretsCommand) -> Result<()> {
    match command {
        SecretsCommand::Generate { key_file, last } => {
            let id = key_file::add_key(&key_file, last)?;
            let role = if last {
                "last: it unseals, and seals once moved first"
            } else {
                "first: it seals from the next start on"
            };
            println!(
                "leads-server: added key {id} to {}, {role}",
                key_file.display()
            );
        }
        SecretsCommand::Rotate { database, secrets } => {
            let source = secrets.source()?;
            let store = open(&database.database, Synchronous::default()).await?;
            // Never makes a key: a rotation only reseals with keys already given.
            let (keys, _) = key_file::load(&source, &database.database, false)?;
            let resealed = at_start::rotate(store.as_ref(), &keys).await?;
            let sealing = keys.sealing_key_id();
            println!(
                "leads-server: resealed {resealed} webhook signing secrets; every one is now \
                 sealed with key {sealing}"
            );
            let others: Vec<&str> = keys.key_ids().skip(1).collect();
            if !others.is_empty() {
                println!(
                    "leads-server: keys {} unseal nothing now: remove them from the secrets \
                     key once every server holds key {sealing}",
                    others.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM where there is such a thing.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

async fn keys(command: KeysCommand) -> Result<()> {
    let open = |argument: DatabaseArg| async move {
        open(&argument.database, Synchronous::default()).await
    };
    match command {
        KeysCommand::Create {
            org,
            create_org,
            database,
        } => {
            let missing = if create_org {
                MissingOrganization::Create
            } else {
                MissingOrganization::Refuse
            };
            let key = auth::create_key(open(database).await?.as_ref(), &org, missing)
                .await
                .map_err(|error| anyhow::anyhow!("{error}; pass --create-org to create it"))?;
            println!("{key}");
            eprintln!("leads-server: created an API key for `{org}`; it is shown only this once.");
        }
        KeysCommand::List { org, database } => {
            let store = open(database).await?;
            let organization = store
                .organization_find(&org)
                .await?
                .with_context(|| format!("no organization is called `{org}`"))?;
            println!(
                "{:<34} {:<20} {:<20} status",
                "prefix (or id)", "created", "last used"
            );
            for key in store.api_key_list(organization).await? {
                let minute =
                    |time: chrono::DateTime<chrono::Utc>| time.format("%Y-%m-%d %H:%M").to_string();
                let name = key.prefix.unwrap_or_else(|| key.id.0.to_string());
                let last_used = key.last_used_at.map_or_else(|| "never".to_string(), minute);
                let status = key.revoked_at.map_or_else(
                    || "active".to_string(),
                    |at| format!("revoked {}", minute(at)),
                );
                println!(
                    "{name:<34} {:<20} {last_used:<20} {status}",
                    minute(key.created_at)
                );
            }
        }
        KeysCommand::Revoke { prefix, database } => {
            match open(database)
                .await?
                .api_key_revoke(&prefix, chrono::Utc::now())
                .await?
            {
                RevokeOutcome::Revoked(id) => {
                    println!("leads-server: revoked the key {prefix} (id {})", id.0);
                }
                RevokeOutcome::NotFound => bail!("no active key has the prefix or id `{prefix}`"),
                RevokeOutcome::Ambiguous => {
                    bail!("more than one active key has the prefix `{prefix}`; give its id")
                }
            }
        }
    }
    Ok(())
}

/// The store of `database`, opened and migrated.
async fn open(database: &Database, synchronous: Synchronous) -> Result<Arc<dyn Store>> {
    server::open_store(database, synchronous)
        .await
        .with_context(|| format!("opening the database {database}"))
}

fn print_openapi() -> Result<()> {
    let document = api::openapi_document(api::versions::newest()).map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}
