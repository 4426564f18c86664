//! What the webhooks' outbox holds, read from the server's SQLite file beside it: its events
//! (each body's size as sent and as stored, and the bytes of the events table's pages), its
//! delivery and attempt rows, and the bytes of every outbox table and index together.
//!
//! Page sizes come from SQLite's `dbstat` (compiled into the bundled SQLite; should it not be,
//! those figures are left out rather than guessed). A page's bytes include its free space and
//! an event's overflow pages, so they are what the file spends, not only what the rows hold.

use std::path::Path;

use anyhow::Result;
use rusqlite::Connection;

/// The outbox's tables: their pages, and their indexes', are the outbox's size.
const TABLES: [&str; 3] = [
    "webhook_events",
    "webhook_deliveries",
    "webhook_delivery_attempts",
];

/// The outbox's size at one moment.
pub struct Outbox {
    pub events: u64,
    /// Bodies' mean size as sent, in bytes.
    pub event_sent_bytes: f64,
    /// Bodies' mean size as stored (deflated, or the text of a body deflating did not shrink).
    pub event_stored_bytes: f64,
    /// The events table's pages.
    pub event_pages: Option<f64>,
    pub deliveries: Table,
    pub attempts: Table,
    /// Every outbox table's and index's pages.
    pub total_bytes: Option<f64>,
}

/// A table's rows, and the bytes of its pages per row.
pub struct Table {
    pub rows: u64,
    pub bytes_per_row: Option<f64>,
}

impl Table {
    fn read(connection: &Connection, name: &str) -> Result<Table> {
        let rows: i64 =
            connection.query_row(&format!("SELECT count(*) FROM {name}"), [], |row| {
                row.get(0)
            })?;
        let rows = rows.unsigned_abs();
        Ok(Table {
            rows,
            bytes_per_row: pages(connection, "name = ?1", [name])
                .filter(|_| rows > 0)
                .map(|bytes| bytes / rows as f64),
        })
    }
}

/// The bytes of the pages `dbstat` lists where `condition` (on its `name`) holds; `None`
/// without `dbstat`.
fn pages(
    connection: &Connection,
    condition: &str,
    parameters: impl rusqlite::Params,
) -> Option<f64> {
    connection
        .query_row(
            &format!("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE {condition}"),
            parameters,
            |row| row.get(0),
        )
        .ok()
}

impl Outbox {
    pub fn read(database: &Path) -> Result<Outbox> {
        let connection = super::db::open(database)?;
        // A body's size as sent is `body_size` (stored with every deflated body since SQLite
        // migration 0013), or its text's; as stored, its deflated bytes, or its text.
        let (events, sent, stored): (i64, f64, f64) = connection.query_row(
            "SELECT count(*), coalesce(avg(coalesce(body_size, length(CAST(body AS BLOB)))), 0), \
             coalesce(avg(coalesce(length(body_deflated), length(CAST(body AS BLOB)))), 0) \
             FROM webhook_events",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let tables = TABLES.map(|table| format!("'{table}'")).join(", ");
        Ok(Outbox {
            events: events.unsigned_abs(),
            event_sent_bytes: sent,
            event_stored_bytes: stored,
            event_pages: pages(&connection, "name = ?1", ["webhook_events"]),
            deliveries: Table::read(&connection, "webhook_deliveries")?,
            attempts: Table::read(&connection, "webhook_delivery_attempts")?,
            total_bytes: pages(
                &connection,
                &format!("name IN (SELECT name FROM sqlite_schema WHERE tbl_name IN ({tables}))"),
                [],
            ),
        })
    }
}
