//! What a test server's database still holds of a value (an erased lead's email, say), looked
//! for beneath the API: in the tables that keep copies of a lead, and, on SQLite, in the bytes
//! of the database file and of its WAL.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use tokio_postgres::NoTls;

use super::TestServer;
use crate::config::Database;
use crate::store::sqlite::event_body::StoredBody;

/// Where a value was found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traces {
    /// For each table that keeps a lead or a copy of it, how many of its rows hold the value
    /// (compared case-insensitively for `leads`' email, as the store keys it).
    pub rows: BTreeMap<&'static str, i64>,
    /// On SQLite, how many times the value's bytes are in the database file and in its WAL;
    /// `None` on PostgreSQL, whose files are the database server's.
    pub file_bytes: Option<(usize, usize)>,
}

impl Traces {
    /// Whether the value was found nowhere.
    pub fn is_empty(&self) -> bool {
        self.rows.values().all(|rows| *rows == 0) && self.file_bytes.is_none_or(|b| b == (0, 0))
    }
}

/// The tables looked in by SQL, and the condition on a row holding the value `?1`/`$1` (each
/// backend's text functions: SQLite's `instr`, PostgreSQL's `strpos`). SQLite's
/// `webhook_events` is read apart ([`EVENT_BODIES`]).
const SQLITE: [(&str, &str); 2] = [
    (
        "leads",
        "instr(email_lower, lower(?1)) > 0 OR instr(full_name, ?1) > 0",
    ),
    ("idempotent_answers", "instr(CAST(body AS TEXT), ?1) > 0"),
];
const POSTGRES: [(&str, &str); 3] = [
    (
        "leads",
        "strpos(email_lower, lower($1)) > 0 OR strpos(full_name, $1) > 0",
    ),
    ("webhook_events", "strpos(body, $1) > 0"),
    (
        "idempotent_answers",
        "strpos(convert_from(body, 'UTF8'), $1) > 0",
    ),
];

/// Every SQLite event's body as stored, its text or its deflated bytes: most bodies are
/// deflated (`crate::store::sqlite::event_body`), where no SQL text function (and no grep of
/// the file) finds the value, so each is inflated and searched here. A row stored deflated
/// has the empty text beside its bytes.
const EVENT_BODIES: &str =
    "SELECT CASE WHEN body_deflated IS NULL THEN body END, body_deflated FROM webhook_events";

/// How many of `bodies` (as [`EVENT_BODIES`] reads them) hold `value`, once inflated.
fn events_holding(
    bodies: impl IntoIterator<Item = (Option<String>, Option<Vec<u8>>)>,
    value: &str,
) -> Result<i64> {
    let mut holding = 0;
    for (text, deflated) in bodies {
        let body = StoredBody::into_text(text, deflated).context("an event's body")?;
        holding += i64::from(body.contains(value));
    }
    Ok(holding)
}

impl TestServer {
    /// Where the server's database still holds `value`.
    pub async fn traces(&self, value: &str) -> Result<Traces> {
        match self.database() {
            Database::Sqlite(path) => {
                let path = path.clone();
                let value = value.to_owned();
                tokio::task::spawn_blocking(move || sqlite_traces(&path, &value))
                    .await
                    .context("looking in the SQLite file")?
            }
            Database::Postgres(url) => postgres_traces(url, value).await,
        }
    }
}

fn sqlite_traces(path: &std::path::Path, value: &str) -> Result<Traces> {
    let connection = rusqlite::Connection::open(path).context("opening the database")?;
    let mut rows = BTreeMap::new();
    for (table, holds) in SQLITE {
        let count: i64 = connection
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE {holds}"),
                [value],
                |row| row.get(0),
            )
            .with_context(|| format!("counting in {table}"))?;
        rows.insert(table, count);
    }
    let bodies = connection
        .prepare(EVENT_BODIES)
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("reading the events' bodies")?;
    rows.insert("webhook_events", events_holding(bodies, value)?);
    drop(connection);
    let count = |file: std::path::PathBuf| {
        let bytes = std::fs::read(file).unwrap_or_default();
        bytes
            .windows(value.len())
            .filter(|window| *window == value.as_bytes())
            .count()
    };
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let file_bytes = Some((count(path.to_owned()), count(wal.into())));
    Ok(Traces { rows, file_bytes })
}

async fn postgres_traces(url: &str, value: &str) -> Result<Traces> {
    let config: tokio_postgres::Config = url.parse().context("the database's URL")?;
    let (client, connection) = config.connect(NoTls).await.context("connecting")?;
    let connection = tokio::spawn(connection);
    let mut rows = BTreeMap::new();
    for (table, holds) in POSTGRES {
        let row = client
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {holds}"),
                &[&value],
            )
            .await
            .with_context(|| format!("counting in {table}"))?;
        rows.insert(table, row.get::<_, i64>(0));
    }
    drop(client);
    let _ = connection.await;
    Ok(Traces {
        rows,
        file_bytes: None,
    })
}
