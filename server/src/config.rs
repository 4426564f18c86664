//! Configuration of a server: where it listens, where its database is, its limits.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::connections::ConnectionLimits;
use crate::ratelimit::Limits;
use crate::store::sqlite::Synchronous;
use crate::webhooks::WebhookConfig;

/// The largest request body accepted: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How many API requests may be in flight at once by default; over it, `503`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// How long a request's body may take to arrive by default.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to start a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The database: an SQLite file, created if missing, or a PostgreSQL server.
    pub database: Database,
    /// When an SQLite file's commits reach the disk (ignored on PostgreSQL, which flushes
    /// every commit).
    pub sqlite_synchronous: Synchronous,
    pub rate_limits: Limits,
    /// The most API requests in flight at once; more are answered `503 SERVICE_UNAVAILABLE`.
    pub max_in_flight: usize,
    /// A body not received within this long is cut off.
    pub body_read_timeout: Duration,
    /// Log level of the request log (`error`, `warn`, `info`, `debug`, `trace`).
    pub log_level: dropshot::ConfigLoggingLevel,
    /// How each log record is written: text for a console, JSON for a log pipeline.
    pub log_format: crate::log::Format,
    /// How webhooks are delivered, and where they may go.
    pub webhooks: WebhookConfig,
    /// How many connections, from whom, and for how long.
    pub connections: ConnectionLimits,
    /// Where the metrics are served (`GET /metrics`), apart from the API; `None`: nowhere.
    pub metrics_bind: Option<SocketAddr>,
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created if missing: one server process serves it.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its `postgres://` (or `postgresql://`) URL: any number of
    /// server processes may serve it.
    Postgres(String),
}

impl FromStr for Database {
    type Err = std::convert::Infallible;

    /// A `postgres://` or `postgresql://` URL names a PostgreSQL database; anything else is
    /// a file path.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let is_url = ["postgres://", "postgresql://"].iter().any(|scheme| {
            text.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        });
        Ok(if is_url {
            Database::Postgres(text.to_string())
        } else {
            Database::Sqlite(PathBuf::from(text))
        })
    }
}

impl fmt::Display for Database {
    /// The file's path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

/// `url` with its password, in the user info or a `password=` parameter, replaced by `***`.
///
/// Not with `url::Url`: a libpq URL may list hosts with ports (`db1:5432,db2:5432`), which
/// tokio-postgres connects to and a WHATWG URL parser refuses; its serializer would also
/// lowercase the scheme and percent-encode what is shown.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}=***")
                    }
                    _ => parameter.to_string(),
                })
                .collect();
            format!("{path}?{}", parameters.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_names_postgres_and_anything_else_a_file() {
        let parse = |text: &str| text.parse::<Database>().unwrap();
        assert_eq!(
            parse("postgres://u@db:5432/leads"),
            Database::Postgres("postgres://u@db:5432/leads".to_string())
        );
        assert!(matches!(
            parse("PostgreSQL://db/leads"),
            Database::Postgres(_)
        ));
        assert_eq!(
            parse("leads.db"),
            Database::Sqlite(PathBuf::from("leads.db"))
        );
        assert_eq!(
            parse("postgres.db"),
            Database::Sqlite(PathBuf::from("postgres.db"))
        );
    }

    #[test]
    fn a_password_is_never_shown() {
        let shown = |text: &str| text.parse::<Database>().unwrap().to_string();
        assert_eq!(
            shown("postgres://leads:s3cret@db:5432/leads?sslmode=disable"),
            "postgres://leads:***@db:5432/leads?sslmode=disable"
        );
        assert_eq!(
            shown("postgres://leads@db/leads"),
            "postgres://leads@db/leads"
        );
        assert_eq!(shown("postgres://db/leads"), "postgres://db/leads");
        assert_eq!(
            shown("postgres://leads:s3cret@db1:5432,db2:5432/leads"),
            "postgres://leads:***@db1:5432,db2:5432/leads"
        );
        assert_eq!(
            shown("postgres://db/leads?user=u&password=s3cret"),
            "postgres://db/leads?user=u&password=***"
        );
        assert!(
            !format!("{:?}", "postgres://a:pw@h/d".parse::<Database>().unwrap()).contains("pw")
        );
    }
}
