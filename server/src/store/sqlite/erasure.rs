//! Erasure of a lead: the lead and every copy of it the database keeps (the webhook events
//! about it, with their deliveries, and the idempotent answers that hold it), deleted in one
//! write, and then the WAL emptied, so that the bytes are gone from the files and not only
//! unreachable.
//!
//! The writer connection runs with `PRAGMA secure_delete = ON` (`super::try_open_writer`):
//! SQLite zeroes every cell it deletes and every page it frees, including the older versions
//! of a lead that its updates replaced. What a deletion leaves in the WAL is older frames
//! holding the pages as they were: a `TRUNCATE` checkpoint copies the zeroed pages into the
//! database file and cuts the WAL to nothing.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use uuid::Uuid;

use super::errors::Context;
use super::values::id_text;
use super::{leads, pool, webhooks};
use crate::domain::{EventRenderer, EventType, OrganizationId, VersionCondition};
use crate::store::StoreError;

/// The statements that erase a lead's copies, each bound to the lead's id: the deliveries of
/// its events first (they refer to the events), then the events, then the kept answers.
const ERASE_COPIES: [(&str, &str); 3] = [
    (
        "erasing a lead's deliveries",
        "DELETE FROM webhook_deliveries WHERE event_id IN \
         (SELECT id FROM webhook_events WHERE lead_id = ?)",
    ),
    (
        "erasing a lead's events",
        "DELETE FROM webhook_events WHERE lead_id = ?",
    ),
    (
        "erasing a lead's kept answers",
        "DELETE FROM idempotent_answers WHERE lead_id = ?",
    ),
];

/// Deletes the organization's lead if `condition` admits its version, erases its copies and
/// stores its `lead.deleted` deliveries, in the writer's transaction; whether there was such a
/// lead.
pub(super) fn delete(
    transaction: &Connection,
    organization: OrganizationId,
    id: Uuid,
    condition: Option<&VersionCondition>,
    now: DateTime<Utc>,
    events: &dyn EventRenderer,
) -> Result<bool, StoreError> {
    let Some(lead) = leads::select(transaction, organization, id)? else {
        return Ok(false);
    };
    let mut lead = leads::admitted(lead, condition)?;
    let key = id_text(id);
    for (doing, sql) in ERASE_COPIES {
        transaction
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([&key]))
            .context(doing)?;
    }
    transaction
        .prepare_cached("DELETE FROM leads WHERE id = ? AND organization_id = ?")
        .and_then(|mut statement| statement.execute([&key, &id_text(organization.0)]))
        .context("deleting a lead")?;
    // The event's time is the deletion's; its body carries the id alone (the renderer's
    // business), so nothing personal is stored again.
    lead.updated_at = now;
    webhooks::emit(transaction, &[EventType::LeadDeleted], &lead, events)?;
    Ok(true)
}

/// Checkpoints the WAL of the database at `path` into its file and truncates it to zero
/// bytes, on a connection of its own (the writer's is inside its transactions, the
/// checkpointer's runs `PASSIVE` ones). It waits, within the busy timeout, for the writer and
/// for readers of older snapshots; whether it finished (if not, the WAL's older frames stay
/// until a later checkpoint restarts it).
pub(super) fn truncate_wal(path: &Path) -> Result<bool, StoreError> {
    let connection = Connection::open(path)
        .and_then(|connection| pool::configure(&connection).map(|()| connection))
        .context("opening a connection to truncate the WAL")?;
    let busy: i64 = connection
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
        .context("truncating the WAL")?;
    Ok(busy == 0)
}
