//! The benchmark's own connections to SQLite, beside the server's: opened in the server's
//! configuration (WAL, `synchronous=FULL`), on databases whose schema the server's binary
//! created (`leads-server keys create` applies its migrations), so both sides write the same
//! table with the same indexes.
//!
//! A lead row here is what a create through the API stores: an email, a name, a company,
//! attribution metadata and the `source_utm_*` columns derived from it, `notes` empty; and
//! its change number, which the `changed` order walks.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OptionalExtension, Statement, params};

/// Inserts one lead row; the columns not named keep their defaults (or NULL), as a create's.
pub const INSERT: &str = "INSERT INTO leads (id, organization_id, email, email_lower, \
     full_name, company, status, source_utm_source, source_utm_medium, source_utm_campaign, \
     metadata, notes, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '[]', ?11, ?11)";

/// Gives a seeded lead its place in the organization's order of changes, as a create does.
pub const INSERT_CHANGE: &str =
    "INSERT INTO lead_changes (lead_id, organization_id, change) VALUES (?1, ?2, ?3)";

/// Sets the organization's change counter past the seeded leads' changes.
pub const SET_LAST_CHANGE: &str = "UPDATE organizations SET last_change = ?1 WHERE id = ?2";

/// Opens `path` as the server does by default: WAL journal, `synchronous=FULL` (each commit
/// flushed before it is answered).
pub fn open(path: &Path) -> Result<Connection> {
    let connection =
        Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("{} refused WAL journal mode ({mode})", path.display());
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    Ok(connection)
}

/// The id of the organization named `name`.
pub fn organization_id(connection: &Connection, name: &str) -> Result<String> {
    connection
        .query_row(
            "SELECT id FROM organizations WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()?
        .with_context(|| format!("no organization {name}"))
}

/// One lead's row, as [`INSERT`] takes it. Its email is lowercase already.
pub struct NewLead<'a> {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub company: &'a str,
    pub status: &'a str,
    pub utm_source: Option<&'a str>,
    /// Microseconds since the Unix epoch, as the server stores times.
    pub created_at: i64,
}

/// Inserts `lead` into `organization` with a statement prepared from [`INSERT`].
pub fn insert(statement: &mut Statement<'_>, organization: &str, lead: &NewLead<'_>) -> Result<()> {
    // What the server derives from the metadata a client sends: `source_utm_*` columns
    // beside the metadata object itself.
    let (medium, campaign) = match lead.utm_source {
        Some(_) => (Some("cpc"), Some("spring-launch")),
        None => (None, None),
    };
    let metadata = lead.utm_source.map(|source| {
        format!(r#"{{"utmSource":"{source}","utmMedium":"cpc","utmCampaign":"spring-launch"}}"#)
    });
    statement.execute(params![
        lead.id,
        organization,
        lead.email,
        lead.full_name,
        lead.company,
        lead.status,
        lead.utm_source,
        medium,
        campaign,
        metadata,
        lead.created_at,
    ])?;
    Ok(())
}

/// Where a list page starts: the lead before it (which the cursor names) and its first lead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub before_created_at: i64,
    pub before_id: String,
    pub first_id: String,
}

/// The position of the page that starts `offset` leads into `organization`'s list (in the
/// list order, newest first); `None` if the list is not longer than that. `offset` ≥ 1.
pub fn position(
    connection: &Connection,
    organization: &str,
    offset: u64,
) -> Result<Option<Position>> {
    let skip = i64::try_from(offset.saturating_sub(1)).context("offset out of range")?;
    let mut statement = connection.prepare(
        "SELECT created_at, id FROM leads WHERE organization_id = ?1 \
         ORDER BY created_at DESC, id DESC LIMIT 2 OFFSET ?2",
    )?;
    let rows = statement
        .query_map(params![organization, skip], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(match <[_; 2]>::try_from(rows) {
        Ok([(before_created_at, before_id), (_, first_id)]) => Some(Position {
            before_created_at,
            before_id,
            first_id,
        }),
        Err(_) => None,
    })
}

/// How many leads `organization` has.
pub fn count(connection: &Connection, organization: &str) -> Result<u64> {
    let count: i64 = connection.query_row(
        "SELECT count(*) FROM leads WHERE organization_id = ?1",
        [organization],
        |row| row.get(0),
    )?;
    Ok(u64::try_from(count)?)
}
