//! The `leads` table: the one list of its columns, and the statements that insert, update
//! (under a version condition), read and list leads. An insert and an update store the
//! webhook events they cause in the caller's transaction (`super::webhooks::emit`).
//!
//! A column cannot be forgotten: [`insert`] destructures the [`Lead`] it writes, so a new
//! field fails to compile there until it is stored; [`read`] builds a `Lead` with every field
//! named; and a test compares [`columns!`] with the table's columns.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;
use uuid::Uuid;

use super::errors::internal;
use super::statements::{self, Parameters, Value, bound, execute, page, query, query_opt};
use super::webhooks;
use crate::domain::{
    self, ChangedLead, Emission, EventType, JsonObject, Keyset, Lead, LeadChanges, LeadFilter,
    LeadSource, LeadStatus, OrganizationId, VersionCondition,
};
use crate::store::{ERASE_COPIES, StoreError};

/// Every column of `leads`, in the table's order: what each statement here returns, and what
/// [`INSERT`] writes, as `$1` to `$26`.
macro_rules! columns {
    () => {
        "id, organization_id, email, email_lower, full_name, phone, company, timezone, status, \
         assigned_to_id, source_referrer, source_utm_campaign, source_utm_content, \
         source_utm_medium, source_utm_source, source_utm_term, metadata, notes, \
         disqualification_data, payment_count, payment_status, last_payment_at, \
         total_paid_cents, created_at, updated_at, version"
    };
}

/// Every lead of an organization; a caller appends the rest of the `WHERE` and the order.
const SELECT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM leads WHERE organization_id = $1"
);

const SELECT_BY_KEY: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM leads WHERE organization_id = $1 AND id = $2"
);

/// [`SELECT_BY_KEY`], locking the row until the transaction ends: no other writer can change
/// the lead between this read and the update that follows it.
const SELECT_BY_KEY_FOR_UPDATE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM leads WHERE organization_id = $1 AND id = $2 FOR UPDATE"
);

const INSERT: &str = concat!(
    "INSERT INTO leads (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22, $23, $24, $25, $26) RETURNING ",
    columns!()
);

/// Applies a [`LeadChanges`] (a `NULL` leaves its column as it is) to a lead that
/// [`SELECT_BY_KEY_FOR_UPDATE`] locked, and whose version [`update`] checked, in the same
/// transaction.
const UPDATE: &str = concat!(
    "UPDATE leads SET email = COALESCE($3, email), email_lower = COALESCE($4, email_lower), \
     full_name = COALESCE($5, full_name), phone = COALESCE($6, phone), \
     company = COALESCE($7, company), timezone = COALESCE($8, timezone), \
     status = COALESCE($9, status), assigned_to_id = COALESCE($10, assigned_to_id), \
     notes = COALESCE($11, notes), updated_at = $12, version = version + 1 \
     WHERE organization_id = $1 AND id = $2 \
     RETURNING ",
    columns!()
);

/// The organization's lead with this id.
pub(super) async fn select(
    client: &impl GenericClient,
    organization: OrganizationId,
    id: Uuid,
) -> Result<Option<Lead>, StoreError> {
    query_opt(
        client,
        "reading a lead",
        SELECT_BY_KEY,
        &[&organization.0, &id],
    )
    .await?
    .map(|row| read(&row))
    .transpose()
}

/// Stores `lead` and its `lead.created` deliveries, in the caller's transaction; returns it as
/// read back, so the caller gets exactly what [`select`] will.
pub(super) async fn insert(
    client: &impl GenericClient,
    lead: &Lead,
    events: &Emission,
) -> Result<Lead, StoreError> {
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
    let email_lower = domain::email_key(email);
    let notes = notes_text(notes)?;
    let row = query_opt(
        client,
        "inserting a lead",
        INSERT,
        &[
            id,
            &organization_id.0,
            email,
            &email_lower,
            full_name,
            phone,
            company,
            timezone,
            &status.as_str(),
            assigned_to_id,
            referrer,
            utm_campaign,
            utm_content,
            utm_medium,
            utm_source,
            utm_term,
            &metadata.as_ref().map(JsonObject::as_str),
            &notes,
            &disqualification_data.as_ref().map(JsonObject::as_str),
            payment_count,
            payment_status,
            last_payment_at,
            total_paid_cents,
            created_at,
            updated_at,
            version,
        ],
    )
    .await?
    .ok_or_else(|| internal("an insert of a lead returned no row"))?;
    let stored = read(&row)?;
    webhooks::emit(client, &[EventType::LeadCreated], &stored, events).await?;
    record_change(client, stored.organization_id, stored.id).await?;
    Ok(stored)
}

/// Gives the lead the organization's next change number: the last statement of a lead
/// write. It locks the organization's row until the write commits, so a later change of the
/// organization's leads, numbered higher, cannot commit before this one; taken last, after
/// every other lock of the write, so that it cannot take part in a deadlock.
async fn record_change(
    client: &impl GenericClient,
    organization: OrganizationId,
    lead: Uuid,
) -> Result<(), StoreError> {
    let numbered = "WITH next AS (UPDATE organizations SET last_change = last_change + 1 \
         WHERE id = $1 RETURNING last_change) \
         INSERT INTO lead_changes (lead_id, organization_id, change) \
         SELECT $2, $1, last_change FROM next \
         ON CONFLICT (lead_id) DO UPDATE SET change = excluded.change";
    let recorded = execute(
        client,
        "numbering a lead's change",
        numbered,
        &[&organization.0, &lead],
    )
    .await?;
    if recorded == 1 {
        Ok(())
    } else {
        Err(internal("a lead's change was numbered for no organization"))
    }
}

/// Applies `changes` to the organization's lead if `condition` admits its version, sets
/// `updated_at` to `now`, adds one to the version and stores the change's deliveries
/// ([`EventType::of_update`]), all in the caller's transaction; returns the lead as stored,
/// `None` if there is no such lead. `changes` must not be empty (it would still add to the
/// version).
///
/// The lead is read first, locked, so that the condition is checked and the events are
/// chosen on the version the update replaces. Under `READ COMMITTED` (PostgreSQL's default)
/// the read waits for a concurrent writer of the lead and then sees what it committed, so no
/// update is lost. (Under `SERIALIZABLE`, CockroachDB's only isolation, the database aborts
/// the waiting transaction instead, and the store runs it again: `super::retrying`.)
pub(super) async fn update(
    client: &impl GenericClient,
    organization: OrganizationId,
    id: Uuid,
    changes: LeadChanges,
    condition: Option<&VersionCondition>,
    now: DateTime<Utc>,
    events: &Emission,
) -> Result<Option<Lead>, StoreError> {
    // Destructured so that a new field of `LeadChanges` fails to compile here until applied.
    let LeadChanges {
        email,
        full_name,
        phone,
        company,
        timezone,
        status,
        assigned_to_id,
        notes,
    } = changes;
    let email_lower = email.as_deref().map(domain::email_key);
    let notes = notes.as_deref().map(notes_text).transpose()?;
    let Some(row) = query_opt(
        client,
        "reading a lead to update",
        SELECT_BY_KEY_FOR_UPDATE,
        &[&organization.0, &id],
    )
    .await?
    else {
        return Ok(None);
    };
    let before = read(&row)?;
    if condition.is_some_and(|condition| !condition.admits(before.version)) {
        return Err(StoreError::VersionMismatch);
    }
    let parameters: Parameters<'_> = &[
        &organization.0,
        &id,
        &email,
        &email_lower,
        &full_name,
        &phone,
        &company,
        &timezone,
        &status.map(LeadStatus::as_str),
        &assigned_to_id,
        &notes,
        &now,
    ];
    let row = query_opt(client, "updating a lead", UPDATE, parameters)
        .await?
        .ok_or_else(|| internal("a locked lead was not found by its update"))?;
    let stored = read(&row)?;
    webhooks::emit(
        client,
        &EventType::of_update(&before, &stored),
        &stored,
        events,
    )
    .await?;
    record_change(client, organization, id).await?;
    Ok(Some(stored))
}

/// Deletes the organization's lead if `condition` admits its version, erases its copies and
/// stores its `lead.deleted` deliveries (the event's time is `now`), all in the caller's
/// transaction; whether there was such a lead. The lead is read locked first, as
/// [`update`] does, so that the condition is checked on the version deleted.
pub(super) async fn delete(
    client: &impl GenericClient,
    organization: OrganizationId,
    id: Uuid,
    condition: Option<&VersionCondition>,
    now: DateTime<Utc>,
    events: &Emission,
) -> Result<bool, StoreError> {
    let Some(row) = query_opt(
        client,
        "reading a lead to delete",
        SELECT_BY_KEY_FOR_UPDATE,
        &[&organization.0, &id],
    )
    .await?
    else {
        return Ok(false);
    };
    let mut lead = read(&row)?;
    if condition.is_some_and(|condition| !condition.admits(lead.version)) {
        return Err(StoreError::VersionMismatch);
    }
    for (doing, sql) in ERASE_COPIES {
        execute(client, doing, sql, &[&id]).await?;
    }
    execute(
        client,
        "deleting a lead",
        "DELETE FROM leads WHERE organization_id = $1 AND id = $2",
        &[&organization.0, &id],
    )
    .await?;
    // The body carries the id alone (the renderer's business): nothing personal again.
    lead.updated_at = now;
    webhooks::emit(client, &[EventType::LeadDeleted], &lead, events).await?;
    Ok(true)
}

/// At most `limit` of the organization's leads matching `filter`, in the list order, starting
/// strictly after `after`.
pub(super) async fn list(
    client: &impl GenericClient,
    organization: OrganizationId,
    filter: &LeadFilter,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<Lead>, StoreError> {
    let (sql, values) = list_query(organization, filter, after, limit);
    query(client, "listing leads", &sql, &bound(&values))
        .await?
        .iter()
        .map(read)
        .collect()
}

/// The list query and its parameters, all bound: no value is ever spliced into the SQL. Each
/// combination of filters is a statement of its own, so that PostgreSQL plans each for the
/// index that serves it (one statement with `$n IS NULL OR …` would get one plan for all).
fn list_query(
    organization: OrganizationId,
    filter: &LeadFilter,
    after: Option<Keyset>,
    limit: u32,
) -> (String, Vec<Value>) {
    let mut sql = SELECT.to_owned();
    let mut values: Vec<Value> = vec![Box::new(organization.0)];
    filter_clauses(filter, &mut sql, &mut values);
    page(&mut sql, &mut values, "", after, limit);
    (sql, values)
}

/// Up to `limit` of the organization's leads matching `filter` changed after change `after`,
/// oldest change first, each with its change number.
pub(super) async fn list_changed(
    client: &impl GenericClient,
    organization: OrganizationId,
    filter: &LeadFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<ChangedLead>, StoreError> {
    let (sql, values) = changed_query(organization, filter, after, limit);
    query(client, "listing changed leads", &sql, &bound(&values))
        .await?
        .iter()
        .map(|row| {
            Ok(ChangedLead {
                change: column(row, "change")?,
                lead: read(row)?,
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
    let mut sql = concat!(
        "SELECT ",
        columns!(),
        ", change FROM lead_changes JOIN leads USING (organization_id) \
         WHERE organization_id = $1 AND change > $2 AND id = lead_id"
    )
    .to_owned();
    let mut values: Vec<Value> = vec![Box::new(organization.0), Box::new(after)];
    filter_clauses(filter, &mut sql, &mut values);
    values.push(Box::new(i64::from(limit)));
    sql.push_str(&format!(" ORDER BY change LIMIT ${}", values.len()));
    (sql, values)
}

/// `filter`'s conditions, appended to a query's `WHERE`, with their parameters.
fn filter_clauses(filter: &LeadFilter, sql: &mut String, values: &mut Vec<Value>) {
    let LeadFilter {
        status,
        utm_source,
        assigned_to_id,
        email,
    } = filter;
    let mut condition = |sql: &mut String, column: &str, value: Value| {
        values.push(value);
        sql.push_str(&format!(" AND {column} = ${}", values.len()));
    };
    if let Some(status) = status {
        condition(sql, "status", Box::new(status.as_str()));
    }
    if let Some(utm_source) = utm_source {
        condition(sql, "source_utm_source", Box::new(utm_source.clone()));
    }
    if let Some(assigned_to_id) = assigned_to_id {
        condition(sql, "assigned_to_id", Box::new(assigned_to_id.clone()));
    }
    if let Some(email) = email {
        condition(sql, "email_lower", Box::new(domain::email_key(email)));
    }
}

fn notes_text(notes: &[JsonObject]) -> Result<String, StoreError> {
    serde_json::to_string(notes)
        .map_err(|error| StoreError::Internal(format!("encoding notes: {error}")))
}

/// One column of a lead's row, by name.
fn column<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Result<T, StoreError> {
    statements::column(row, "reading a lead", name)
}

/// A row of any statement here as a [`Lead`]. By name: a lookup among 26 names costs nothing
/// next to the round trip that fetched the row, and no order has to be kept in step.
fn read(row: &Row) -> Result<Lead, StoreError> {
    let id: Uuid = column(row, "id")?;
    let corrupt = |column: &str, error: &dyn std::fmt::Display| {
        StoreError::Internal(format!("lead {id} has a corrupt {column}: {error}"))
    };
    let object = |name: &str| -> Result<Option<JsonObject>, StoreError> {
        column::<Option<String>>(row, name)?
            .map(|text| JsonObject::from_text(text).map_err(|error| corrupt(name, &error)))
            .transpose()
    };
    let status: String = column(row, "status")?;
    let notes: String = column(row, "notes")?;
    Ok(Lead {
        id,
        organization_id: OrganizationId(column(row, "organization_id")?),
        email: column(row, "email")?,
        full_name: column(row, "full_name")?,
        phone: column(row, "phone")?,
        company: column(row, "company")?,
        timezone: column(row, "timezone")?,
        status: LeadStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        assigned_to_id: column(row, "assigned_to_id")?,
        source: LeadSource {
            referrer: column(row, "source_referrer")?,
            utm_campaign: column(row, "source_utm_campaign")?,
            utm_content: column(row, "source_utm_content")?,
            utm_medium: column(row, "source_utm_medium")?,
            utm_source: column(row, "source_utm_source")?,
            utm_term: column(row, "source_utm_term")?,
        },
        metadata: object("metadata")?,
        notes: serde_json::from_str(&notes).map_err(|error| corrupt("notes", &error))?,
        disqualification_data: object("disqualification_data")?,
        payment_count: column(row, "payment_count")?,
        payment_status: column(row, "payment_status")?,
        last_payment_at: column(row, "last_payment_at")?,
        total_paid_cents: column(row, "total_paid_cents")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
        version: column(row, "version")?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_reads_in_order, open, planner, query_plan, raw};
    use super::*;
    use crate::store::prelude::*;
    use crate::store::suite::{T0, assert_internal, at, filters_and_their_indexes, full_lead};

    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn the_statements_name_every_column_of_the_table() {
        let (database, _store, _) = open().await;
        let table: Vec<String> = raw(&database)
            .await
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_name = 'leads' ORDER BY ordinal_position",
                &[],
            )
            .await
            .expect("columns")
            .iter()
            .map(|row| row.get(0))
            .collect();
        // In the table's order too, so that the list reads like the schema.
        assert_eq!(table, columns!().split(", ").collect::<Vec<_>>());
    }

    /// The email filter is one lookup in the unique index of emails, whatever else is asked,
    /// as PostgreSQL plans it for a table of leads it has statistics of (an empty one is as
    /// cheap to read by any index).
    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn the_email_filter_reads_the_unique_index() {
        let (database, store, organization) = open().await;
        for n in 0..300 {
            let lead = Lead::new(organization, format!("lead{n}@example.com"), at(T0 + n));
            store.lead_insert(lead, None).await.expect("insert");
        }
        let raw = raw(&database).await;
        raw.batch_execute("ANALYZE leads").await.expect("analyze");
        let filter = LeadFilter {
            email: Some("Lead7@example.com".to_owned()),
            status: Some(LeadStatus::New),
            ..LeadFilter::default()
        };
        let (sql, values) = list_query(organization, &filter, None, 10);
        let plan = query_plan(&raw, &sql, &values).await;
        assert!(
            plan.contains("Index Scan using leads_email_unique"),
            "{plan}"
        );
    }

    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn the_changed_order_reads_its_index_in_order() {
        let (database, _store, organization) = open().await;
        let planner = planner(&database).await;
        for (filter, _) in filters_and_their_indexes() {
            let (sql, values) = changed_query(organization, &filter, 41, 10);
            let plan = query_plan(&planner, &sql, &values).await;
            assert!(
                plan.contains("Index Scan using lead_changes_in_order on lead_changes"),
                "{sql}:\n{plan}"
            );
            assert!(plan.contains("change > "), "{sql} seeks:\n{plan}");
            assert!(!plan.contains("Sort"), "{sql}:\n{plan}");
        }
    }

    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn each_list_query_reads_an_index_in_order() {
        let (database, _store, organization) = open().await;
        let planner = planner(&database).await;
        let keyset = Keyset {
            created_at: at(T0),
            id: Uuid::new_v4(),
        };
        for (filter, index) in filters_and_their_indexes() {
            for after in [None, Some(keyset)] {
                let query = list_query(organization, &filter, after, 10);
                assert_reads_in_order(&planner, query, index, after.is_some()).await;
            }
        }
    }

    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn a_corrupt_json_column_is_an_internal_error() {
        let (database, store, organization) = open().await;
        let lead = store
            .lead_insert(full_lead(organization), None)
            .await
            .expect("insert");
        // An array, as the schema checks, but of something other than objects.
        raw(&database)
            .await
            .execute("UPDATE leads SET notes = '[1]' WHERE id = $1", &[&lead.id])
            .await
            .expect("corrupt");
        assert_internal(store.lead_get(organization, lead.id).await);
        assert_internal(
            store
                .lead_list(organization, LeadFilter::default(), None, 1000)
                .await,
        );
        let changes = LeadChanges {
            company: Some("x".to_owned()),
            ..LeadChanges::default()
        };
        assert_internal(
            store
                .lead_update(organization, lead.id, changes, None, at(T0))
                .await,
        );
    }
}
