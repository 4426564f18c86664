//! The `leads` table: a lead's row, the one list of its columns, and the statements that
//! insert, update (under a version condition), read and list leads.
//!
//! A column added to the table cannot be forgotten in any of them: [`lead_row!`] declares
//! [`LeadRow`]'s fields once and derives every column list, the parameters and the row reader
//! from that declaration; [`LeadRow::from_lead`] and [`LeadRow::into_lead`] destructure and
//! build both types exhaustively, so the compiler refuses a field of one that the other
//! lacks; and a test compares the list with the table's columns.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, ToSql, named_params, params_from_iter};
use uuid::Uuid;

use super::errors::{Context, internal, write_error};
use super::values::{from_json, from_micros, id_text, micros, parse_id, to_json};
use super::{idempotent_answers, webhooks};
use crate::domain::{
    self, ChangedLead, Emission, EventType, JsonObject, Keyset, Lead, LeadChanges, LeadFilter,
    LeadSource, LeadStatus, OrganizationId, VersionCondition,
};
use crate::store::{IdempotentAnswer, StoreError};

/// `a, b, c`
macro_rules! column_list {
    ($first:ident $(, $column:ident)*) => {
        concat!(stringify!($first) $(, ", ", stringify!($column))*)
    };
}

/// `:a, :b, :c`
macro_rules! placeholder_list {
    ($first:ident $(, $column:ident)*) => {
        concat!(":", stringify!($first) $(, ", :", stringify!($column))*)
    };
}

/// `a = :a<separator>b = :b`
macro_rules! assignment_list {
    ($separator:literal; $first:ident $(, $column:ident)*) => {
        concat!(
            stringify!($first), " = :", stringify!($first)
            $(, $separator, stringify!($column), " = :", stringify!($column))*
        )
    };
}

/// Declares `LeadRow` with one field per column of `$table` and derives from that single list
/// every statement and binding that names the columns, so none can be left out of one.
///
/// The `key` columns address a row (its organization too, so no statement can reach another
/// organization's lead). An update writes every other column, not only those a
/// [`LeadChanges`] can change: it rewrites the whole row built from the updated [`Lead`], so
/// a column added later is written without anyone remembering to. Rewriting an unchanged
/// value changes no data; it costs index upkeep on one row, which is cheap next to a lost
/// write.
///
/// A `macro_rules!` rather than a query builder or a derive crate: the SQL stays literal text,
/// joined at compile time by `concat!` with nothing formatted per call; every value stays
/// bound; and nothing is added to the dependencies.
macro_rules! lead_row {
    (
        table $table:literal;
        key { $($key:ident: $key_type:ty),+ $(,)? }
        values { $($value:ident: $value_type:ty),+ $(,)? }
    ) => {
        /// A lead's row in SQLite's types, before it is checked into a [`Lead`]: reading and
        /// checking are apart because a row can hold what no `Lead` can (a corrupt JSON value).
        struct LeadRow {
            $($key: $key_type,)+
            $($value: $value_type,)+
        }

        impl LeadRow {
            /// The table's columns, as `SELECT` and `INSERT` list them.
            #[cfg(test)]
            const COLUMNS: &[&str] = &[$(stringify!($key),)+ $(stringify!($value),)+];

            /// The columns, as [`Self::SELECT`] lists them.
            const COLUMN_LIST: &str = column_list!($($key,)+ $($value),+);

            /// How many columns [`Self::read`] reads.
            const COLUMN_COUNT: usize = [$(stringify!($key),)+ $(stringify!($value),)+].len();

            /// Every column of every row; a caller appends `WHERE` and `ORDER BY`.
            const SELECT: &str =
                concat!("SELECT ", column_list!($($key,)+ $($value),+), " FROM ", $table);

            const SELECT_BY_KEY: &str = concat!(
                "SELECT ", column_list!($($key,)+ $($value),+), " FROM ", $table,
                " WHERE ", assignment_list!(" AND "; $($key),+)
            );

            const INSERT: &str = concat!(
                "INSERT INTO ", $table, " (", column_list!($($key,)+ $($value),+), ") ",
                "VALUES (", placeholder_list!($($key,)+ $($value),+), ")"
            );

            const UPDATE_BY_KEY: &str = concat!(
                "UPDATE ", $table, " SET ", assignment_list!(", "; $($value),+),
                " WHERE ", assignment_list!(" AND "; $($key),+)
            );

            /// Every column's value, bound by name: to [`Self::INSERT`] and
            /// [`Self::UPDATE_BY_KEY`], which name them all.
            fn parameters(&self) -> Vec<(&'static str, &dyn ToSql)> {
                vec![
                    $((concat!(":", stringify!($key)), &self.$key as &dyn ToSql),)+
                    $((concat!(":", stringify!($value)), &self.$value as &dyn ToSql),)+
                ]
            }

            /// Reads a row selected by [`Self::SELECT`] or [`Self::SELECT_BY_KEY`], by
            /// position: both list the columns in this struct's order, and a field's
            /// initializer runs in the order written. (By name, rusqlite compares the name
            /// with every column's: a third of a page's CPU in a profile.)
            fn read(row: &Row<'_>) -> rusqlite::Result<LeadRow> {
                let mut columns = 0_usize..;
                let mut next = move || columns.next().unwrap_or_default();
                Ok(LeadRow {
                    $($key: row.get(next())?,)+
                    $($value: row.get(next())?,)+
                })
            }
        }
    };
}

lead_row! {
    table "leads";
    key {
        id: String,
        organization_id: String,
    }
    values {
        email: String,
        email_lower: String,
        full_name: Option<String>,
        phone: Option<String>,
        company: Option<String>,
        timezone: Option<String>,
        status: String,
        assigned_to_id: Option<String>,
        source_referrer: Option<String>,
        source_utm_campaign: Option<String>,
        source_utm_content: Option<String>,
        source_utm_medium: Option<String>,
        source_utm_source: Option<String>,
        source_utm_term: Option<String>,
        metadata: Option<String>,
        notes: String,
        disqualification_data: Option<String>,
        payment_count: i64,
        payment_status: Option<String>,
        last_payment_at: Option<i64>,
        total_paid_cents: i64,
        created_at: i64,
        updated_at: i64,
        version: i64,
    }
}

impl LeadRow {
    fn from_lead(lead: Lead) -> Result<LeadRow, StoreError> {
        // Destructured so that a new field of `Lead` fails to compile here until it is stored.
        let Lead {
            id,
            organization_id,
            email,
            full_name,
            phone,
            company,
            timezone,
            status,
            assigned_to_id,
            source:
                LeadSource {
                    referrer,
                    utm_campaign,
                    utm_content,
                    utm_medium,
                    utm_source,
                    utm_term,
                },
            metadata,
            notes,
            disqualification_data,
            payment_count,
            payment_status,
            last_payment_at,
            total_paid_cents,
            created_at,
            updated_at,
            version,
        } = lead;
        Ok(LeadRow {
            id: id_text(id),
            organization_id: id_text(organization_id.0),
            // Rust's folding, not SQLite's `lower()`, which folds ASCII only.
            email_lower: domain::email_key(&email),
            email,
            full_name,
            phone,
            company,
            timezone,
            status: status.as_str().to_owned(),
            assigned_to_id,
            source_referrer: referrer,
            source_utm_campaign: utm_campaign,
            source_utm_content: utm_content,
            source_utm_medium: utm_medium,
            source_utm_source: utm_source,
            source_utm_term: utm_term,
            metadata: metadata
                .map(|value| to_json(&value, "metadata"))
                .transpose()?,
            notes: to_json(&notes, "notes")?,
            disqualification_data: disqualification_data
                .map(|value| to_json(&value, "disqualification_data"))
                .transpose()?,
            payment_count,
            payment_status,
            last_payment_at: last_payment_at.map(micros),
            total_paid_cents,
            created_at: micros(created_at),
            updated_at: micros(updated_at),
            version,
        })
    }

    /// The row as a [`Lead`]. Its fields are read by name rather than destructured: each
    /// column is written from a `Lead` field by [`LeadRow::from_lead`], which destructures, so a
    /// new column already fails to compile there; `email_lower` is derived, and not read back.
    fn into_lead(self) -> Result<Lead, StoreError> {
        let id = parse_id(&self.id, "leads.id")?;
        let status = LeadStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Internal(format!("lead {id} has an unknown status {:?}", self.status))
        })?;
        let json_object = |text: Option<String>, column: &str| {
            text.map(|text| from_json::<JsonObject>(&text, column, id))
                .transpose()
        };
        Ok(Lead {
            id,
            organization_id: OrganizationId(parse_id(
                &self.organization_id,
                "leads.organization_id",
            )?),
            email: self.email,
            full_name: self.full_name,
            phone: self.phone,
            company: self.company,
            timezone: self.timezone,
            status,
            assigned_to_id: self.assigned_to_id,
            source: LeadSource {
                referrer: self.source_referrer,
                utm_campaign: self.source_utm_campaign,
                utm_content: self.source_utm_content,
                utm_medium: self.source_utm_medium,
                utm_source: self.source_utm_source,
                utm_term: self.source_utm_term,
            },
            metadata: json_object(self.metadata, "metadata")?,
            notes: from_json(&self.notes, "notes", id)?,
            disqualification_data: json_object(
                self.disqualification_data,
                "disqualification_data",
            )?,
            payment_count: self.payment_count,
            payment_status: self.payment_status,
            last_payment_at: self
                .last_payment_at
                .map(|micros| from_micros(micros, "last_payment_at"))
                .transpose()?,
            total_paid_cents: self.total_paid_cents,
            created_at: from_micros(self.created_at, "created_at")?,
            updated_at: from_micros(self.updated_at, "updated_at")?,
            version: self.version,
        })
    }
}

/// The organization's lead with this id.
pub(super) fn select(
    connection: &Connection,
    organization: OrganizationId,
    id: Uuid,
) -> Result<Option<Lead>, StoreError> {
    connection
        .prepare_cached(LeadRow::SELECT_BY_KEY)
        .and_then(|mut statement| {
            statement
                .query_row(
                    named_params! {
                        ":id": id_text(id),
                        ":organization_id": id_text(organization.0),
                    },
                    LeadRow::read,
                )
                .optional()
        })
        .context("reading a lead")?
        .map(LeadRow::into_lead)
        .transpose()
}

/// Stores `lead`, and `answer` if given, and its `lead.created` deliveries, all or none (the
/// writer runs each write in a savepoint of its transaction); returns the lead.
pub(super) fn insert(
    transaction: &Connection,
    lead: Lead,
    answer: Option<&IdempotentAnswer>,
    events: &Emission,
) -> Result<Lead, StoreError> {
    let organization = lead.organization_id;
    // The row holds exactly the lead's fields (the store suite's round trips check it), so
    // the lead is returned as given rather than read back on the writer thread.
    let row = LeadRow::from_lead(lead.clone())?;
    // The answer first: a retry racing its original finds the key taken, whatever its email.
    if let Some(answer) = answer {
        if answer.organization != organization {
            return Err(internal(
                "an idempotent answer was given for another organization than its lead's",
            ));
        }
        idempotent_answers::keep(transaction, answer, lead.id)?;
    }
    transaction
        .prepare_cached(LeadRow::INSERT)
        .and_then(|mut statement| statement.execute(row.parameters().as_slice()))
        .map_err(write_error("inserting a lead"))?;
    webhooks::emit(transaction, &[EventType::LeadCreated], &lead, events)?;
    record_change(transaction, organization, lead.id)?;
    Ok(lead)
}

/// Gives the lead the organization's next change number: the last statement of a lead
/// write, after which it only commits.
fn record_change(
    transaction: &Connection,
    organization: OrganizationId,
    lead: Uuid,
) -> Result<(), StoreError> {
    let organization = id_text(organization.0);
    let change: i64 = transaction
        .prepare_cached(
            "UPDATE organizations SET last_change = last_change + 1 WHERE id = ? \
             RETURNING last_change",
        )
        .and_then(|mut statement| statement.query_row([&organization], |row| row.get(0)))
        .context("numbering a lead's change")?;
    transaction
        .prepare_cached(
            "INSERT INTO lead_changes (lead_id, organization_id, change) VALUES (?, ?, ?) \
             ON CONFLICT (lead_id) DO UPDATE SET change = excluded.change",
        )
        .and_then(|mut statement| statement.execute((id_text(lead), &organization, change)))
        .context("recording a lead's change")?;
    Ok(())
}

/// `lead` if `condition` (if any) admits its version; [`StoreError::VersionMismatch`] if not.
pub(super) fn admitted(
    lead: Lead,
    condition: Option<&VersionCondition>,
) -> Result<Lead, StoreError> {
    match condition {
        Some(condition) if !condition.admits(lead.version) => Err(StoreError::VersionMismatch),
        _ => Ok(lead),
    }
}

/// Applies `changes` to the organization's lead if `condition` admits its version, stores the
/// change's deliveries, and returns the lead as read back; `None` if there is no such lead. The writer's transaction holds the write
/// lock from before the read, so no other process can change the lead (or its version)
/// between the read, the check of the condition, and the write.
pub(super) fn update(
    transaction: &Connection,
    organization: OrganizationId,
    id: Uuid,
    changes: LeadChanges,
    condition: Option<&VersionCondition>,
    now: DateTime<Utc>,
    events: &Emission,
) -> Result<Option<Lead>, StoreError> {
    let Some(lead) = select(transaction, organization, id)? else {
        return Ok(None);
    };
    let before = admitted(lead, condition)?;
    let row = LeadRow::from_lead(apply(before.clone(), changes, now)?)?;
    let updated = transaction
        .prepare_cached(LeadRow::UPDATE_BY_KEY)
        .and_then(|mut statement| statement.execute(row.parameters().as_slice()))
        .map_err(write_error("updating a lead"))?;
    if updated != 1 {
        return Err(StoreError::Internal(format!(
            "updating lead {id} changed {updated} rows"
        )));
    }
    let stored = select(transaction, organization, id)?
        .ok_or_else(|| internal("a lead was not found right after its update"))?;
    webhooks::emit(
        transaction,
        &EventType::of_update(&before, &stored),
        &stored,
        events,
    )?;
    record_change(transaction, organization, id)?;
    Ok(Some(stored))
}

/// `lead` with `changes` applied, `updated_at` set to `now` and one added to its version.
fn apply(mut lead: Lead, changes: LeadChanges, now: DateTime<Utc>) -> Result<Lead, StoreError> {
    // Destructured (in the spec's order) so that a new field of `LeadChanges` fails to
    // compile here until applied.
    let LeadChanges {
        assigned_to_id,
        company,
        email,
        full_name,
        notes,
        phone,
        status,
        timezone,
    } = changes;
    if let Some(email) = email {
        lead.email = email;
    }
    if full_name.is_some() {
        lead.full_name = full_name;
    }
    if phone.is_some() {
        lead.phone = phone;
    }
    if company.is_some() {
        lead.company = company;
    }
    if timezone.is_some() {
        lead.timezone = timezone;
    }
    if let Some(status) = status {
        lead.status = status;
    }
    if assigned_to_id.is_some() {
        lead.assigned_to_id = assigned_to_id;
    }
    if let Some(notes) = notes {
        lead.notes = notes;
    }
    lead.updated_at = now;
    lead.version = lead.version.checked_add(1).ok_or_else(|| {
        StoreError::Internal(format!("lead {} is at the last version there is", lead.id))
    })?;
    Ok(lead)
}

/// At most `limit` of the organization's leads matching `filter`, in the list order, starting
/// strictly after `after`.
pub(super) fn list(
    connection: &Connection,
    organization: OrganizationId,
    filter: &LeadFilter,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<Lead>, StoreError> {
    let (sql, parameters) = list_query(organization, filter, after, limit);
    let rows = connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(parameters), LeadRow::read)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing leads")?;
    rows.into_iter().map(LeadRow::into_lead).collect()
}

/// Up to `limit` of the organization's leads matching `filter` changed after change `after`,
/// oldest change first, each with its change number.
pub(super) fn list_changed(
    connection: &Connection,
    organization: OrganizationId,
    filter: &LeadFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<ChangedLead>, StoreError> {
    let (sql, parameters) = changed_query(organization, filter, after, limit);
    let rows = connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(params_from_iter(parameters), |row| {
                    Ok((LeadRow::read(row)?, row.get(LeadRow::COLUMN_COUNT)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .context("listing changed leads")?;
    rows.into_iter()
        .map(|(row, change)| {
            Ok(ChangedLead {
                change,
                lead: row.into_lead()?,
            })
        })
        .collect()
}

/// The query of [`list_changed`] and its parameters, all bound.
fn changed_query(
    organization: OrganizationId,
    filter: &LeadFilter,
    after: i64,
    limit: u32,
) -> (String, Vec<Value>) {
    // `USING` makes `organization_id` one column of both tables, as the lead's columns name it.
    let mut sql = format!(
        "SELECT {}, change FROM lead_changes JOIN leads USING (organization_id) \
         WHERE organization_id = ? AND change > ? AND id = lead_id",
        LeadRow::COLUMN_LIST
    );
    let mut parameters = vec![Value::Text(id_text(organization.0)), Value::Integer(after)];
    filter_clauses(filter, &mut sql, &mut parameters);
    sql.push_str(" ORDER BY change LIMIT ?");
    parameters.push(Value::Integer(i64::from(limit)));
    (sql, parameters)
}

/// The list query and its parameters, all bound: no value is ever spliced into the SQL.
fn list_query(
    organization: OrganizationId,
    filter: &LeadFilter,
    after: Option<Keyset>,
    limit: u32,
) -> (String, Vec<Value>) {
    let mut sql = format!("{} WHERE organization_id = ?", LeadRow::SELECT);
    let mut parameters = vec![Value::Text(id_text(organization.0))];
    filter_clauses(filter, &mut sql, &mut parameters);
    if let Some(Keyset { created_at, id }) = after {
        // Means `created_at < ? OR (created_at = ? AND id < ?)`; the leading `<=` gives the
        // planner a range to seek to in the index, where the OR alone would scan from the top.
        sql.push_str(" AND created_at <= ? AND (created_at < ? OR id < ?)");
        parameters.push(Value::Integer(micros(created_at)));
        parameters.push(Value::Integer(micros(created_at)));
        parameters.push(Value::Text(id_text(id)));
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    parameters.push(Value::Integer(i64::from(limit)));
    (sql, parameters)
}

/// `filter`'s conditions, appended to a query's `WHERE`, with their parameters.
fn filter_clauses(filter: &LeadFilter, sql: &mut String, parameters: &mut Vec<Value>) {
    let LeadFilter {
        status,
        utm_source,
        assigned_to_id,
        email,
    } = filter;
    if let Some(status) = status {
        sql.push_str(" AND status = ?");
        parameters.push(Value::Text(status.as_str().to_owned()));
    }
    if let Some(utm_source) = utm_source {
        sql.push_str(" AND source_utm_source = ?");
        parameters.push(Value::Text(utm_source.clone()));
    }
    if let Some(assigned_to_id) = assigned_to_id {
        sql.push_str(" AND assigned_to_id = ?");
        parameters.push(Value::Text(assigned_to_id.clone()));
    }
    if let Some(email) = email {
        sql.push_str(" AND email_lower = ?");
        parameters.push(Value::Text(domain::email_key(email)));
    }
}

#[cfg(test)]
mod tests;
