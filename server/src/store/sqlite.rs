//! The SQLite [`Store`]: owns the schema (the numbered migrations in `migrations/`), the
//! connections to one database file, and the mapping between rows and domain values.
//!
//! rusqlite blocks, so every call runs on tokio's blocking pool and the async runtime never
//! waits on SQLite. SQLite admits one writer at a time, so writes share one connection; in WAL
//! mode readers do not wait for the writer, so reads get a small pool of their own.
//!
//! Ids are stored as lowercase hyphenated UUID text, whose text order is the UUID order;
//! timestamps as integer microseconds since the Unix epoch, so keyset comparisons are exact.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior, named_params,
    params_from_iter,
};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::{KeyHash, Store, StoreError};
use crate::domain::{
    ApiKeyId, JsonObject, Keyset, Lead, LeadChanges, LeadFilter, LeadSource, LeadStatus,
    OrganizationId,
};

/// The schema, one migration per version, oldest first. `PRAGMA user_version` records how
/// many have been applied, so only append: never edit or reorder a migration that has shipped.
const MIGRATION_STEPS: &[M<'static>] = &[M::up(include_str!("migrations/0001_initial.sql"))];
const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_STEPS);

/// Enough for reads to overlap each other and the writer without holding many file handles.
const READERS: usize = 4;

/// How long a connection waits for another's lock (e.g. a second process) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Storage in one SQLite database file.
pub struct SqliteStore {
    /// Declared before the writer so that it closes first: the last connection to close
    /// checkpoints the WAL into the database file, and only the writer may.
    readers: Arc<ReaderPool>,
    /// The only connection that writes. An async mutex, so that queued writes wait without
    /// each parking a blocking-pool thread; it does not poison, and a write that fails midway
    /// leaves the connection usable because its transaction rolls back when dropped.
    writer: Arc<tokio::sync::Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file if needed, and brings its schema up to
    /// date. Fails if the file holds a schema newer than this build knows. Blocks on file I/O:
    /// call it before serving, or from a blocking task.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display();
        let mut writer = Connection::open(path).context(&format!("opening database {shown}"))?;
        configure(&writer).context(&format!("configuring database {shown}"))?;
        let journal_mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .context(&format!("enabling WAL on {shown}"))?;
        // Without WAL, readers and the writer would block each other: fail loudly instead.
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Internal(format!(
                "database {shown} refused WAL journal mode (it is in {journal_mode} mode)"
            )));
        }
        // Safe in WAL mode: a power loss may drop the last commits but never corrupts.
        writer
            .pragma_update(None, "synchronous", "NORMAL")
            .context(&format!("configuring database {shown}"))?;
        // rusqlite_migration opens its transaction with the connection's default behaviour.
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads first
        // fails with SQLITE_BUSY when another process wrote meanwhile, which the busy timeout
        // cannot cure. (The store's own transactions ask for IMMEDIATE by name.)
        writer.set_transaction_behavior(TransactionBehavior::Immediate);
        // All pending migrations run in one transaction; a file whose schema is newer than
        // this build's is refused rather than used.
        MIGRATIONS.to_latest(&mut writer).map_err(|error| {
            StoreError::Internal(format!("migrating database {shown}: {error}"))
        })?;

        let idle = (0..READERS)
            .map(|_| {
                // Read-only, so a bug in a read path cannot write behind the writer's back.
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let reader = Connection::open_with_flags(path, flags)?;
                configure(&reader)?;
                Ok(reader)
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .context(&format!("opening readers of {shown}"))?;

        Ok(SqliteStore {
            readers: Arc::new(ReaderPool {
                permits: Arc::new(Semaphore::new(idle.len())),
                idle: Mutex::new(idle),
            }),
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
        })
    }

    /// Runs `work` on the writer connection, on the blocking pool.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let mut writer = Arc::clone(&self.writer).lock_owned().await;
        blocking(move || work(&mut writer)).await
    }

    /// Runs `work` on a reader connection, on the blocking pool, once one is free.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.readers.permits)
            .acquire_owned()
            .await
            .map_err(|_| internal("the reader pool is closed"))?;
        let readers = Arc::clone(&self.readers);
        blocking(move || {
            let lease = ReaderPool::take(readers, permit)?;
            let Some(reader) = lease.connection.as_ref() else {
                return Err(internal("a reader lease holds no connection"));
            };
            work(reader)
        })
        .await
    }
}

/// Settings every connection needs; `journal_mode` is the file's, set once by the writer.
fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "foreign_keys", "ON")
}

/// Reader connections, each lent to one blocking task at a time.
struct ReaderPool {
    /// One permit per idle connection: holding a permit guarantees `idle` has one to give.
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn take(pool: Arc<ReaderPool>, permit: OwnedSemaphorePermit) -> Result<Lease, StoreError> {
        let connection = pool
            .idle
            .lock()
            .map_err(|_| internal("the reader pool's lock is poisoned"))?
            .pop()
            .ok_or_else(|| internal("the reader pool gave a permit but has no idle connection"))?;
        Ok(Lease {
            pool,
            connection: Some(connection),
            _permit: permit,
        })
    }
}

/// A reader connection on loan. Dropping it (even while unwinding from a panic) returns the
/// connection before the permit, so the permit count never exceeds the idle connections.
struct Lease {
    pool: Arc<ReaderPool>,
    connection: Option<Connection>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (Some(connection), Ok(mut idle)) = (self.connection.take(), self.pool.idle.lock()) {
            idle.push(connection);
        }
    }
}

async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Internal(format!("a storage task failed: {error}")))?
}

fn internal(message: &str) -> StoreError {
    StoreError::Internal(message.to_owned())
}

/// Turns a rusqlite error into [`StoreError::Internal`] saying what was being done.
trait Context<T> {
    fn context(self, doing: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, doing: &str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Internal(format!("{doing}: {error}")))
    }
}

/// Like [`Context::context`], but a clash on `UNIQUE (organization_id, email_lower)` is
/// [`StoreError::EmailTaken`]: the constraint decides, so concurrent writers cannot race it.
fn write_error(doing: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| match &error {
        rusqlite::Error::SqliteFailure(failure, Some(message))
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && message.contains("email_lower") =>
        {
            StoreError::EmailTaken
        }
        _ => StoreError::Internal(format!("{doing}: {error}")),
    }
}

fn id_text(id: Uuid) -> String {
    // `Uuid`'s Display is lowercase hyphenated: the form whose text order is the UUID order.
    id.hyphenated().to_string()
}

fn parse_id(text: &str, column: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text)
        .map_err(|error| StoreError::Internal(format!("{column} {text:?} is not a UUID: {error}")))
}

fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn from_micros(micros: i64, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        StoreError::Internal(format!(
            "{column} {micros} is out of the range of a timestamp"
        ))
    })
}

fn to_json<T: Serialize>(value: &T, column: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Internal(format!("encoding {column}: {error}")))
}

fn from_json<T: DeserializeOwned>(text: &str, column: &str, lead: Uuid) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| {
        StoreError::Internal(format!("lead {lead} has a corrupt {column}: {error}"))
    })
}

/// The columns of `leads` that make a [`Lead`]: those [`LeadRow::read`] reads, by name.
macro_rules! lead_columns {
    () => {
        "id, organization_id, email, full_name, phone, company, timezone, status, \
         assigned_to_id, source_referrer, source_utm_campaign, source_utm_content, \
         source_utm_medium, source_utm_source, source_utm_term, metadata, notes, \
         disqualification_data, payment_count, payment_status, last_payment_at, \
         total_paid_cents, created_at, updated_at"
    };
}

/// A `leads` row in SQLite's types, before it is checked into a [`Lead`]: reading and
/// checking are apart because a row can hold what no `Lead` can (a corrupt JSON value).
struct LeadRow {
    id: String,
    organization_id: String,
    email: String,
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
}

impl LeadRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<LeadRow> {
        Ok(LeadRow {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            email: row.get("email")?,
            full_name: row.get("full_name")?,
            phone: row.get("phone")?,
            company: row.get("company")?,
            timezone: row.get("timezone")?,
            status: row.get("status")?,
            assigned_to_id: row.get("assigned_to_id")?,
            source_referrer: row.get("source_referrer")?,
            source_utm_campaign: row.get("source_utm_campaign")?,
            source_utm_content: row.get("source_utm_content")?,
            source_utm_medium: row.get("source_utm_medium")?,
            source_utm_source: row.get("source_utm_source")?,
            source_utm_term: row.get("source_utm_term")?,
            metadata: row.get("metadata")?,
            notes: row.get("notes")?,
            disqualification_data: row.get("disqualification_data")?,
            payment_count: row.get("payment_count")?,
            payment_status: row.get("payment_status")?,
            last_payment_at: row.get("last_payment_at")?,
            total_paid_cents: row.get("total_paid_cents")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }

    fn into_lead(self) -> Result<Lead, StoreError> {
        let id = parse_id(&self.id, "leads.id")?;
        let status = LeadStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Internal(format!("lead {id} has an unknown status {:?}", self.status))
        })?;
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
            metadata: self
                .metadata
                .map(|text| from_json::<JsonObject>(&text, "metadata", id))
                .transpose()?,
            notes: from_json(&self.notes, "notes", id)?,
            disqualification_data: self
                .disqualification_data
                .map(|text| from_json::<JsonObject>(&text, "disqualification_data", id))
                .transpose()?,
            payment_count: self.payment_count,
            payment_status: self.payment_status,
            last_payment_at: self
                .last_payment_at
                .map(|micros| from_micros(micros, "last_payment_at"))
                .transpose()?,
            total_paid_cents: self.total_paid_cents,
            created_at: from_micros(self.created_at, "created_at")?,
            updated_at: from_micros(self.updated_at, "updated_at")?,
        })
    }
}

fn select_lead(
    connection: &Connection,
    organization: OrganizationId,
    id: Uuid,
) -> Result<Option<Lead>, StoreError> {
    connection
        .prepare_cached(concat!(
            "SELECT ",
            lead_columns!(),
            " FROM leads WHERE organization_id = :organization_id AND id = :id"
        ))
        .and_then(|mut statement| {
            statement
                .query_row(
                    named_params! {
                        ":organization_id": id_text(organization.0),
                        ":id": id_text(id),
                    },
                    LeadRow::read,
                )
                .optional()
        })
        .context("reading a lead")?
        .map(LeadRow::into_lead)
        .transpose()
}

fn insert_lead(connection: &Connection, lead: &Lead) -> Result<(), StoreError> {
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
    } = lead;
    let metadata = metadata
        .as_ref()
        .map(|value| to_json(value, "metadata"))
        .transpose()?;
    let notes = to_json(notes, "notes")?;
    let disqualification_data = disqualification_data
        .as_ref()
        .map(|value| to_json(value, "disqualification_data"))
        .transpose()?;
    connection
        .prepare_cached(
            "INSERT INTO leads (id, organization_id, email, email_lower, full_name, phone, \
             company, timezone, status, assigned_to_id, source_referrer, source_utm_campaign, \
             source_utm_content, source_utm_medium, source_utm_source, source_utm_term, \
             metadata, notes, disqualification_data, payment_count, payment_status, \
             last_payment_at, total_paid_cents, created_at, updated_at) \
             VALUES (:id, :organization_id, :email, :email_lower, :full_name, :phone, \
             :company, :timezone, :status, :assigned_to_id, :source_referrer, \
             :source_utm_campaign, :source_utm_content, :source_utm_medium, \
             :source_utm_source, :source_utm_term, :metadata, :notes, :disqualification_data, \
             :payment_count, :payment_status, :last_payment_at, :total_paid_cents, \
             :created_at, :updated_at)",
        )
        .and_then(|mut statement| {
            statement.execute(named_params! {
                ":id": id_text(*id),
                ":organization_id": id_text(organization_id.0),
                ":email": email,
                ":email_lower": email.to_lowercase(),
                ":full_name": full_name,
                ":phone": phone,
                ":company": company,
                ":timezone": timezone,
                ":status": status.as_str(),
                ":assigned_to_id": assigned_to_id,
                ":source_referrer": referrer,
                ":source_utm_campaign": utm_campaign,
                ":source_utm_content": utm_content,
                ":source_utm_medium": utm_medium,
                ":source_utm_source": utm_source,
                ":source_utm_term": utm_term,
                ":metadata": metadata,
                ":notes": notes,
                ":disqualification_data": disqualification_data,
                ":payment_count": payment_count,
                ":payment_status": payment_status,
                ":last_payment_at": last_payment_at.map(micros),
                ":total_paid_cents": total_paid_cents,
                ":created_at": micros(*created_at),
                ":updated_at": micros(*updated_at),
            })
        })
        .map_err(write_error("inserting a lead"))?;
    Ok(())
}

/// `lead` with `changes` applied and `updated_at` set to `now`.
fn apply(mut lead: Lead, changes: LeadChanges, now: DateTime<Utc>) -> Lead {
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
    lead
}

/// Writes the fields a [`LeadChanges`] can change, and `updated_at`.
fn update_lead(connection: &Connection, lead: &Lead) -> Result<(), StoreError> {
    let notes = to_json(&lead.notes, "notes")?;
    let updated = connection
        .prepare_cached(
            "UPDATE leads SET email = :email, email_lower = :email_lower, \
             full_name = :full_name, phone = :phone, company = :company, \
             timezone = :timezone, status = :status, assigned_to_id = :assigned_to_id, \
             notes = :notes, updated_at = :updated_at \
             WHERE organization_id = :organization_id AND id = :id",
        )
        .and_then(|mut statement| {
            statement.execute(named_params! {
                ":email": lead.email,
                ":email_lower": lead.email.to_lowercase(),
                ":full_name": lead.full_name,
                ":phone": lead.phone,
                ":company": lead.company,
                ":timezone": lead.timezone,
                ":status": lead.status.as_str(),
                ":assigned_to_id": lead.assigned_to_id,
                ":notes": notes,
                ":updated_at": micros(lead.updated_at),
                ":organization_id": id_text(lead.organization_id.0),
                ":id": id_text(lead.id),
            })
        })
        .map_err(write_error("updating a lead"))?;
    if updated == 1 {
        Ok(())
    } else {
        Err(StoreError::Internal(format!(
            "updating lead {} changed {updated} rows",
            lead.id
        )))
    }
}

/// The list query and its parameters, all bound: no value is ever spliced into the SQL.
fn list_query(
    organization: OrganizationId,
    filter: &LeadFilter,
    after: Option<Keyset>,
    limit: u32,
) -> (String, Vec<Value>) {
    let LeadFilter {
        status,
        utm_source,
        assigned_to_id,
    } = filter;
    let mut sql = String::from(concat!(
        "SELECT ",
        lead_columns!(),
        " FROM leads WHERE organization_id = ?"
    ));
    let mut parameters = vec![Value::Text(id_text(organization.0))];
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

#[async_trait]
impl Store for SqliteStore {
    async fn health(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            // Reads the schema's tables, not just `SELECT 1`: a database that lost them cannot
            // serve requests.
            connection
                .query_row(
                    "SELECT (SELECT count(*) FROM (SELECT 1 FROM leads LIMIT 1)) \
                     + (SELECT count(*) FROM (SELECT 1 FROM api_keys LIMIT 1))",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .context("probing the database")?;
            Ok(())
        })
        .await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.read(|connection| {
            connection
                .query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM organizations)",
                    [],
                    |row| row.get(0),
                )
                .context("counting organizations")
        })
        .await
    }

    async fn organization_ensure(&self, name: &str) -> Result<OrganizationId, StoreError> {
        let name = name.to_owned();
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .and_then(|mut statement| {
                    statement.execute((id_text(Uuid::new_v4()), &name, micros(Utc::now())))
                })
                .context("creating an organization")?;
            let id: String = connection
                .query_row(
                    "SELECT id FROM organizations WHERE name = ?",
                    [&name],
                    |row| row.get(0),
                )
                .context("reading an organization")?;
            Ok(OrganizationId(parse_id(&id, "organizations.id")?))
        })
        .await
    }

    async fn api_key_insert(
        &self,
        organization: OrganizationId,
        hash: KeyHash,
        created_at: DateTime<Utc>,
    ) -> Result<ApiKeyId, StoreError> {
        self.write(move |connection| {
            let id = Uuid::new_v4();
            connection
                .prepare_cached(
                    "INSERT INTO api_keys (id, organization_id, key_hash, created_at) \
                     VALUES (?, ?, ?, ?)",
                )
                .and_then(|mut statement| {
                    statement.execute((
                        id_text(id),
                        id_text(organization.0),
                        hash,
                        micros(created_at),
                    ))
                })
                .context("storing an API key")?;
            Ok(ApiKeyId(id))
        })
        .await
    }

    async fn api_key_find(
        &self,
        hash: KeyHash,
    ) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError> {
        self.read(move |connection| {
            let found: Option<(String, String)> = connection
                .prepare_cached("SELECT id, organization_id FROM api_keys WHERE key_hash = ?")
                .and_then(|mut statement| {
                    statement
                        .query_row([hash], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .context("looking up an API key")?;
            found
                .map(|(id, organization)| {
                    Ok((
                        ApiKeyId(parse_id(&id, "api_keys.id")?),
                        OrganizationId(parse_id(&organization, "api_keys.organization_id")?),
                    ))
                })
                .transpose()
        })
        .await
    }

    async fn lead_insert(&self, lead: Lead) -> Result<Lead, StoreError> {
        self.write(move |connection| {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("starting a lead insert")?;
            insert_lead(&transaction, &lead)?;
            // Read back so the caller gets exactly what `lead_get` will return.
            let stored = select_lead(&transaction, lead.organization_id, lead.id)?
                .ok_or_else(|| internal("a lead was not found right after its insert"))?;
            transaction.commit().context("committing a lead insert")?;
            Ok(stored)
        })
        .await
    }

    async fn lead_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Lead>, StoreError> {
        self.read(move |connection| select_lead(connection, organization, id))
            .await
    }

    async fn lead_update(
        &self,
        organization: OrganizationId,
        id: Uuid,
        changes: LeadChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Lead>, StoreError> {
        // Nothing to write, so no need to queue behind the writer.
        if changes.is_empty() {
            return self.lead_get(organization, id).await;
        }
        self.write(move |connection| {
            // IMMEDIATE takes the write lock before the read, so no other process can change
            // the lead between the read and the write.
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("starting a lead update")?;
            let Some(lead) = select_lead(&transaction, organization, id)? else {
                return Ok(None);
            };
            update_lead(&transaction, &apply(lead, changes, now))?;
            let stored = select_lead(&transaction, organization, id)?
                .ok_or_else(|| internal("a lead was not found right after its update"))?;
            transaction.commit().context("committing a lead update")?;
            Ok(Some(stored))
        })
        .await
    }

    async fn lead_list(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Lead>, StoreError> {
        self.read(move |connection| {
            let (sql, parameters) = list_query(organization, &filter, after, limit);
            let rows = connection
                .prepare_cached(&sql)
                .and_then(|mut statement| {
                    statement
                        .query_map(params_from_iter(parameters), LeadRow::read)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .context("listing leads")?;
            rows.into_iter().map(LeadRow::into_lead).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;
    use tempfile::TempDir;

    use super::*;

    /// 2023-11-14T22:13:20Z, in microseconds.
    const T0: i64 = 1_700_000_000_000_000;

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).expect("a test timestamp in range")
    }

    fn object(value: serde_json::Value) -> JsonObject {
        match value {
            serde_json::Value::Object(object) => object,
            other => panic!("not a JSON object: {other}"),
        }
    }

    /// A lead with only the required fields set.
    fn lead(organization: OrganizationId, email: &str, created_at: DateTime<Utc>) -> Lead {
        Lead {
            id: Uuid::new_v4(),
            organization_id: organization,
            email: email.to_owned(),
            full_name: None,
            phone: None,
            company: None,
            timezone: None,
            status: LeadStatus::New,
            assigned_to_id: None,
            source: LeadSource::default(),
            metadata: None,
            notes: Vec::new(),
            disqualification_data: None,
            payment_count: 0,
            payment_status: None,
            last_payment_at: None,
            total_paid_cents: 0,
            created_at,
            updated_at: created_at,
        }
    }

    /// A lead with every field set, JSON values holding keys the API does not know.
    fn full_lead(organization: OrganizationId) -> Lead {
        Lead {
            id: Uuid::new_v4(),
            organization_id: organization,
            email: "Ada.Lovelace@Example.com".to_owned(),
            full_name: Some("Ada Lovelace".to_owned()),
            phone: Some("+44 20 7946 0000".to_owned()),
            company: Some("Analytical Engines Ltd".to_owned()),
            timezone: Some("Europe/London".to_owned()),
            status: LeadStatus::Qualified,
            assigned_to_id: Some("user_42".to_owned()),
            source: LeadSource {
                referrer: Some("https://news.example.com/".to_owned()),
                utm_campaign: Some("spring".to_owned()),
                utm_content: Some("banner".to_owned()),
                utm_medium: Some("cpc".to_owned()),
                utm_source: Some("google".to_owned()),
                utm_term: Some("engines".to_owned()),
            },
            metadata: Some(object(json!({
                "utm_source": "google",
                "referrer": "https://news.example.com/",
                "unknown_key": {"nested": [1, 2.5, null, true, "x"]},
                "unicode": "żółw 🐢",
            }))),
            notes: vec![
                object(json!({
                    "content": "first call",
                    "created_at": "2023-11-14T22:13:20Z",
                    "user_id": "user_42",
                    "extra": {"mood": "keen"},
                })),
                object(json!({"content": "second", "created_at": "2023-11-15T09:00:00Z"})),
            ],
            disqualification_data: Some(object(json!({"reason": "budget", "score": 3}))),
            payment_count: 2,
            payment_status: Some("paid".to_owned()),
            last_payment_at: Some(at(T0 + 123_456)),
            total_paid_cents: 199_900,
            created_at: at(T0),
            updated_at: at(T0 + 1),
        }
    }

    async fn open() -> (TempDir, SqliteStore, OrganizationId) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("leads.db")).expect("open");
        let organization = store
            .organization_ensure("acme")
            .await
            .expect("organization");
        (dir, store, organization)
    }

    /// A connection of its own to the store's file, to look beneath the interface.
    fn raw(dir: &TempDir) -> Connection {
        Connection::open(dir.path().join("leads.db")).expect("raw connection")
    }

    async fn list_all(store: &SqliteStore, organization: OrganizationId) -> Vec<Lead> {
        store
            .lead_list(organization, LeadFilter::default(), None, 1000)
            .await
            .expect("list")
    }

    fn ids(leads: &[Lead]) -> Vec<Uuid> {
        leads.iter().map(|lead| lead.id).collect()
    }

    /// `leads` in the list order: newest first, then by id descending.
    fn in_list_order(mut leads: Vec<Lead>) -> Vec<Lead> {
        leads.sort_by_key(|lead| std::cmp::Reverse((lead.created_at, lead.id)));
        leads
    }

    fn assert_internal<T: std::fmt::Debug>(result: Result<T, StoreError>) {
        assert!(
            matches!(result, Err(StoreError::Internal(_))),
            "expected an internal error, got {result:?}"
        );
    }

    #[tokio::test]
    async fn a_new_file_is_migrated_in_wal_mode() {
        let (dir, store, _) = open().await;
        store.health().await.expect("health");
        let raw = raw(&dir);
        let version: i64 = raw
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("user_version");
        assert_eq!(
            version,
            i64::try_from(MIGRATION_STEPS.len()).expect("few migrations")
        );
        let mode: String = raw
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        let tables: Vec<String> = raw
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .expect("tables");
        assert_eq!(tables, ["api_keys", "leads", "organizations"]);
    }

    #[tokio::test]
    async fn reopening_an_existing_file_keeps_its_data() {
        let (dir, store, organization) = open().await;
        let stored = store
            .lead_insert(full_lead(organization))
            .await
            .expect("insert");
        drop(store);

        let store = SqliteStore::open(&dir.path().join("leads.db")).expect("reopen");
        assert!(!store.is_empty().await.expect("is_empty"));
        assert_eq!(
            store.organization_ensure("acme").await.expect("ensure"),
            organization
        );
        assert_eq!(
            store.lead_get(organization, stored.id).await.expect("get"),
            Some(stored)
        );
    }

    #[tokio::test]
    async fn closing_the_store_leaves_every_commit_in_the_database_file() {
        let (dir, store, organization) = open().await;
        let lead = store
            .lead_insert(full_lead(organization))
            .await
            .expect("insert");
        // Readers too, since a connection opens the file only when first used.
        store.lead_get(organization, lead.id).await.expect("get");
        drop(store);
        // So a copy of the file alone is a complete backup.
        assert!(!dir.path().join("leads.db-wal").exists());
    }

    #[tokio::test]
    async fn a_schema_newer_than_the_server_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("leads.db");
        Connection::open(&path)
            .and_then(|raw| {
                let future = i64::try_from(MIGRATION_STEPS.len() + 1).expect("few migrations");
                raw.pragma_update(None, "user_version", future)
            })
            .expect("future schema");
        assert_internal(SqliteStore::open(&path).map(|_| ()));
    }

    #[tokio::test]
    async fn insert_then_get_round_trips_every_field() {
        let (_dir, store, organization) = open().await;
        let lead = full_lead(organization);
        let inserted = store.lead_insert(lead.clone()).await.expect("insert");
        assert_eq!(inserted, lead);
        assert_eq!(
            store.lead_get(organization, lead.id).await.expect("get"),
            Some(lead)
        );
    }

    #[tokio::test]
    async fn insert_then_get_round_trips_absent_fields() {
        let (_dir, store, organization) = open().await;
        let lead = lead(organization, "bare@example.com", at(T0));
        store.lead_insert(lead.clone()).await.expect("insert");
        assert_eq!(
            store.lead_get(organization, lead.id).await.expect("get"),
            Some(lead)
        );
    }

    #[tokio::test]
    async fn every_status_round_trips() {
        let (_dir, store, organization) = open().await;
        for (n, status) in LeadStatus::ALL.into_iter().enumerate() {
            let mut lead = lead(organization, &format!("s{n}@example.com"), at(T0));
            lead.status = status;
            store.lead_insert(lead.clone()).await.expect("insert");
            let got = store.lead_get(organization, lead.id).await.expect("get");
            assert_eq!(got.map(|lead| lead.status), Some(status));
        }
    }

    #[tokio::test]
    async fn get_of_an_unknown_lead_is_none() {
        let (_dir, store, organization) = open().await;
        assert_eq!(
            store
                .lead_get(organization, Uuid::new_v4())
                .await
                .expect("get"),
            None
        );
    }

    #[tokio::test]
    async fn another_organizations_lead_is_invisible() {
        let (_dir, store, acme) = open().await;
        let globex = store.organization_ensure("globex").await.expect("globex");
        let theirs = store.lead_insert(full_lead(globex)).await.expect("insert");

        assert_eq!(store.lead_get(acme, theirs.id).await.expect("get"), None);
        let changes = LeadChanges {
            full_name: Some("Hijacked".to_owned()),
            ..LeadChanges::default()
        };
        assert_eq!(
            store
                .lead_update(acme, theirs.id, changes, at(T0 + 5))
                .await
                .expect("update"),
            None
        );
        assert_eq!(
            store
                .lead_update(acme, theirs.id, LeadChanges::default(), at(T0 + 5))
                .await
                .expect("empty update"),
            None
        );
        assert!(list_all(&store, acme).await.is_empty());
        let filtered = LeadFilter {
            status: Some(theirs.status),
            utm_source: theirs.source.utm_source.clone(),
            assigned_to_id: theirs.assigned_to_id.clone(),
        };
        assert!(
            store
                .lead_list(acme, filtered, None, 10)
                .await
                .expect("list")
                .is_empty()
        );

        assert_eq!(
            store.lead_get(globex, theirs.id).await.expect("get"),
            Some(theirs.clone()),
            "the other organization's lead is unchanged"
        );
        assert_eq!(list_all(&store, globex).await, [theirs]);
    }

    #[tokio::test]
    async fn an_email_is_taken_case_insensitively_within_an_organization() {
        let (_dir, store, acme) = open().await;
        let first = lead(acme, "Zoë.Doe@Example.com", at(T0));
        store.lead_insert(first.clone()).await.expect("insert");

        // `to_lowercase` folds beyond ASCII: Ë is Zoë's capital.
        for email in ["zoë.doe@example.com", "ZOË.DOE@EXAMPLE.COM"] {
            let result = store.lead_insert(lead(acme, email, at(T0 + 1))).await;
            assert!(
                matches!(result, Err(StoreError::EmailTaken)),
                "{email}: {result:?}"
            );
        }
        assert_eq!(list_all(&store, acme).await, [first]);

        let globex = store.organization_ensure("globex").await.expect("globex");
        store
            .lead_insert(lead(globex, "Zoë.Doe@Example.com", at(T0)))
            .await
            .expect("the same email in another organization");
    }

    #[tokio::test]
    async fn a_duplicate_id_is_not_mistaken_for_a_taken_email() {
        let (_dir, store, acme) = open().await;
        let first = lead(acme, "one@example.com", at(T0));
        store.lead_insert(first.clone()).await.expect("insert");
        let mut again = lead(acme, "two@example.com", at(T0));
        again.id = first.id;
        assert_internal(store.lead_insert(again).await);
    }

    #[tokio::test]
    async fn only_a_clash_on_the_email_is_email_taken() {
        let (dir, store, organization) = open().await;
        store
            .lead_insert(lead(organization, "one@example.com", at(T0)))
            .await
            .expect("insert");
        let raw = raw(&dir);
        let email_clash = raw.execute(
            "INSERT INTO leads (id, organization_id, email, email_lower, status, notes, \
             created_at, updated_at) VALUES (?, ?, 'ONE@example.com', 'one@example.com', \
             'new', '[]', 0, 0)",
            (id_text(Uuid::new_v4()), id_text(organization.0)),
        );
        let error = email_clash.expect_err("the email is taken");
        assert!(matches!(write_error("test")(error), StoreError::EmailTaken));

        let name_clash = raw.execute(
            "INSERT INTO organizations (id, name, created_at) VALUES (?, 'acme', 0)",
            [id_text(Uuid::new_v4())],
        );
        let error = name_clash.expect_err("the name is taken");
        assert!(matches!(
            write_error("test")(error),
            StoreError::Internal(_)
        ));
    }

    #[tokio::test]
    async fn an_update_changes_only_the_given_fields() {
        let (_dir, store, organization) = open().await;
        let before = store
            .lead_insert(full_lead(organization))
            .await
            .expect("insert");
        let now = at(T0 + 60_000_000);
        let changes = LeadChanges {
            email: Some("ada@example.org".to_owned()),
            status: Some(LeadStatus::Contacted),
            assigned_to_id: Some("user_7".to_owned()),
            ..LeadChanges::default()
        };

        let after = store
            .lead_update(organization, before.id, changes, now)
            .await
            .expect("update")
            .expect("the lead exists");

        let expected = Lead {
            email: "ada@example.org".to_owned(),
            status: LeadStatus::Contacted,
            assigned_to_id: Some("user_7".to_owned()),
            updated_at: now,
            ..before.clone()
        };
        assert_eq!(after, expected);
        assert_eq!(
            store.lead_get(organization, before.id).await.expect("get"),
            Some(expected)
        );
    }

    #[tokio::test]
    async fn an_update_can_set_every_changeable_field() {
        let (_dir, store, organization) = open().await;
        let before = store
            .lead_insert(lead(organization, "bare@example.com", at(T0)))
            .await
            .expect("insert");
        let notes = vec![object(json!({"content": "hi", "pinned": true}))];
        let changes = LeadChanges {
            email: Some("Bare@Example.org".to_owned()),
            full_name: Some("Bare Lead".to_owned()),
            phone: Some("+1 555 0100".to_owned()),
            company: Some("Bare Inc".to_owned()),
            timezone: Some("America/New_York".to_owned()),
            status: Some(LeadStatus::Lost),
            assigned_to_id: Some("user_1".to_owned()),
            notes: Some(notes.clone()),
        };
        let now = at(T0 + 10);
        let after = store
            .lead_update(organization, before.id, changes, now)
            .await
            .expect("update");
        let expected = Lead {
            email: "Bare@Example.org".to_owned(),
            full_name: Some("Bare Lead".to_owned()),
            phone: Some("+1 555 0100".to_owned()),
            company: Some("Bare Inc".to_owned()),
            timezone: Some("America/New_York".to_owned()),
            status: LeadStatus::Lost,
            assigned_to_id: Some("user_1".to_owned()),
            notes,
            updated_at: now,
            ..before
        };
        assert_eq!(after, Some(expected));
    }

    #[tokio::test]
    async fn an_update_replaces_every_note() {
        let (_dir, store, organization) = open().await;
        let before = store
            .lead_insert(full_lead(organization))
            .await
            .expect("insert");
        assert_eq!(before.notes.len(), 2);
        let replacement = vec![object(json!({"content": "only", "custom": [1, 2]}))];
        let changes = LeadChanges {
            notes: Some(replacement.clone()),
            ..LeadChanges::default()
        };
        let after = store
            .lead_update(organization, before.id, changes, at(T0 + 9))
            .await
            .expect("update")
            .expect("the lead exists");
        assert_eq!(after.notes, replacement);

        let cleared = LeadChanges {
            notes: Some(Vec::new()),
            ..LeadChanges::default()
        };
        let after = store
            .lead_update(organization, before.id, cleared, at(T0 + 10))
            .await
            .expect("update")
            .expect("the lead exists");
        assert!(after.notes.is_empty());
    }

    #[tokio::test]
    async fn an_empty_update_leaves_the_lead_untouched() {
        let (_dir, store, organization) = open().await;
        let before = store
            .lead_insert(full_lead(organization))
            .await
            .expect("insert");
        let after = store
            .lead_update(organization, before.id, LeadChanges::default(), at(T0 + 99))
            .await
            .expect("update");
        assert_eq!(after, Some(before.clone()));
        assert_eq!(
            store.lead_get(organization, before.id).await.expect("get"),
            Some(before)
        );
    }

    #[tokio::test]
    async fn an_update_of_an_unknown_lead_is_none() {
        let (_dir, store, organization) = open().await;
        let changes = LeadChanges {
            company: Some("Nobody".to_owned()),
            ..LeadChanges::default()
        };
        assert_eq!(
            store
                .lead_update(organization, Uuid::new_v4(), changes, at(T0))
                .await
                .expect("update"),
            None
        );
    }

    #[tokio::test]
    async fn an_update_to_a_taken_email_fails_and_changes_nothing() {
        let (_dir, store, organization) = open().await;
        store
            .lead_insert(lead(organization, "taken@example.com", at(T0)))
            .await
            .expect("insert");
        let other = store
            .lead_insert(lead(organization, "other@example.com", at(T0 + 1)))
            .await
            .expect("insert");
        let changes = LeadChanges {
            email: Some("TAKEN@example.com".to_owned()),
            full_name: Some("Should not stick".to_owned()),
            ..LeadChanges::default()
        };
        let result = store
            .lead_update(organization, other.id, changes, at(T0 + 2))
            .await;
        assert!(matches!(result, Err(StoreError::EmailTaken)), "{result:?}");
        assert_eq!(
            store.lead_get(organization, other.id).await.expect("get"),
            Some(other)
        );
    }

    #[tokio::test]
    async fn a_lead_may_change_the_case_of_its_own_email() {
        let (_dir, store, organization) = open().await;
        let before = store
            .lead_insert(lead(organization, "mixed@example.com", at(T0)))
            .await
            .expect("insert");
        let changes = LeadChanges {
            email: Some("Mixed@Example.com".to_owned()),
            ..LeadChanges::default()
        };
        let after = store
            .lead_update(organization, before.id, changes, at(T0 + 1))
            .await
            .expect("update")
            .expect("the lead exists");
        assert_eq!(after.email, "Mixed@Example.com");
        // The old spelling is free no more: email_lower moved with it.
        let result = store
            .lead_insert(lead(organization, "MIXED@example.com", at(T0 + 2)))
            .await;
        assert!(matches!(result, Err(StoreError::EmailTaken)), "{result:?}");
    }

    #[tokio::test]
    async fn an_old_email_is_free_once_changed() {
        let (_dir, store, organization) = open().await;
        let before = store
            .lead_insert(lead(organization, "old@example.com", at(T0)))
            .await
            .expect("insert");
        let changes = LeadChanges {
            email: Some("new@example.com".to_owned()),
            ..LeadChanges::default()
        };
        store
            .lead_update(organization, before.id, changes, at(T0 + 1))
            .await
            .expect("update");
        store
            .lead_insert(lead(organization, "OLD@example.com", at(T0 + 2)))
            .await
            .expect("the old email is free");
    }

    #[tokio::test]
    async fn the_list_is_newest_first_with_ties_broken_by_id_descending() {
        let (_dir, store, organization) = open().await;
        // Ids whose first digits compare differently as text and as numbers if case or
        // format were wrong: 0x0f < 0x9a < 0xa0 < 0xff.
        let tied = [0x0f, 0x9a, 0xa0, 0xff].map(|first: u128| Uuid::from_u128((first << 120) | 7));
        let mut leads = Vec::new();
        for (n, id) in tied.into_iter().enumerate() {
            let mut lead = lead(organization, &format!("tie{n}@example.com"), at(T0));
            lead.id = id;
            leads.push(lead);
        }
        leads.push(lead(organization, "older@example.com", at(T0 - 1)));
        leads.push(lead(organization, "newer@example.com", at(T0 + 1)));
        // Inserted in an order unlike the list order, so the insertion order cannot pass.
        for lead in [3, 0, 5, 2, 4, 1].map(|n| leads[n].clone()) {
            store.lead_insert(lead).await.expect("insert");
        }

        let listed = list_all(&store, organization).await;
        let expected = ids(&in_list_order(leads.clone()));
        assert_eq!(ids(&listed), expected);
        let newest = &leads[5];
        let oldest = &leads[4];
        assert_eq!(listed.first().map(|lead| lead.id), Some(newest.id));
        assert_eq!(listed.last().map(|lead| lead.id), Some(oldest.id));
        assert_eq!(
            ids(&listed[1..5]),
            [tied[3], tied[2], tied[1], tied[0]],
            "ties by id descending"
        );
    }

    #[tokio::test]
    async fn the_list_stops_at_the_limit() {
        let (_dir, store, organization) = open().await;
        let mut leads = Vec::new();
        for n in 0..5 {
            let lead = lead(organization, &format!("l{n}@example.com"), at(T0 + n));
            leads.push(store.lead_insert(lead).await.expect("insert"));
        }
        let page = store
            .lead_list(organization, LeadFilter::default(), None, 2)
            .await
            .expect("list");
        assert_eq!(ids(&page), ids(&in_list_order(leads)[..2]));
        assert!(
            store
                .lead_list(organization, LeadFilter::default(), None, 0)
                .await
                .expect("list")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_page_starts_strictly_after_its_keyset() {
        let (_dir, store, organization) = open().await;
        let mut leads = Vec::new();
        for n in 0..6 {
            // Pairs share a timestamp, so the keyset's id matters.
            let lead = lead(organization, &format!("k{n}@example.com"), at(T0 + n / 2));
            leads.push(store.lead_insert(lead).await.expect("insert"));
        }
        let ordered = in_list_order(leads);
        for (n, cursor) in ordered.iter().enumerate() {
            let page = store
                .lead_list(
                    organization,
                    LeadFilter::default(),
                    Some(cursor.keyset()),
                    100,
                )
                .await
                .expect("list");
            assert_eq!(ids(&page), ids(&ordered[n + 1..]), "after lead {n}");
        }
        // A keyset need not be a stored lead's.
        let between = Keyset {
            created_at: ordered[2].created_at,
            id: Uuid::max(),
        };
        let page = store
            .lead_list(organization, LeadFilter::default(), Some(between), 100)
            .await
            .expect("list");
        let tied_or_older: Vec<Uuid> = ordered
            .iter()
            .filter(|lead| lead.created_at <= between.created_at)
            .map(|lead| lead.id)
            .collect();
        assert_eq!(ids(&page), tied_or_older);
    }

    #[tokio::test]
    async fn walking_the_pages_returns_every_lead_once_despite_inserts_between_pages() {
        let (_dir, store, organization) = open().await;
        let mut expected = Vec::new();
        for n in 0..11 {
            // Three leads per timestamp and four per page: page breaks fall inside ties.
            let lead = lead(organization, &format!("w{n}@example.com"), at(T0 + n / 3));
            expected.push(store.lead_insert(lead).await.expect("insert"));
        }

        let mut seen = Vec::new();
        let mut after: Option<Keyset> = None;
        let mut inserted: u32 = 0;
        loop {
            let page = store
                .lead_list(organization, LeadFilter::default(), after, 4)
                .await
                .expect("list");
            seen.extend(page.iter().cloned());
            let Some(last) = page.last() else { break };
            let cursor = last.keyset();
            after = Some(cursor);
            // Older leads inserted on every page would keep the walk going for ever.
            if inserted == 2 {
                continue;
            }

            // Before the cursor (newer, or as new with a larger id): never on a later page.
            // After it (older, or as new with a smaller id): on a later page.
            let newer = lead(
                organization,
                &format!("n{inserted}@example.com"),
                at(T0 + 100),
            );
            let mut tied_larger = lead(
                organization,
                &format!("tl{inserted}@example.com"),
                cursor.created_at,
            );
            tied_larger.id = Uuid::from_u128(u128::MAX - u128::from(inserted));
            let mut tied_smaller = lead(
                organization,
                &format!("ts{inserted}@example.com"),
                cursor.created_at,
            );
            tied_smaller.id = Uuid::from_u128(u128::from(inserted));
            let older = lead(
                organization,
                &format!("o{inserted}@example.com"),
                at(T0 - 100 - i64::from(inserted)),
            );
            inserted += 1;
            for lead in [newer, tied_larger, tied_smaller, older] {
                let lead = store.lead_insert(lead).await.expect("insert");
                if (lead.created_at, lead.id) < (cursor.created_at, cursor.id) {
                    expected.push(lead);
                }
            }
        }

        let unique: HashSet<Uuid> = seen.iter().map(|lead| lead.id).collect();
        assert_eq!(unique.len(), seen.len(), "no lead twice");
        assert_eq!(ids(&seen), ids(&in_list_order(expected)));
        let listed = |prefix: &str| {
            seen.iter()
                .filter(|lead| lead.email.starts_with(prefix))
                .count()
        };
        assert_eq!(listed("o"), 2, "older leads inserted meanwhile are listed");
        assert_eq!(listed("n"), 0, "newer leads inserted meanwhile are not");
        assert_eq!(
            listed("tl"),
            0,
            "nor those tied with the cursor, with a larger id"
        );
    }

    #[tokio::test]
    async fn the_list_filters_by_status_utm_source_and_assignee() {
        let (_dir, store, organization) = open().await;
        let mut leads = Vec::new();
        let statuses = [LeadStatus::New, LeadStatus::Qualified, LeadStatus::Lost];
        let sources = [Some("google"), Some("bing"), None];
        let assignees = [Some("user_1"), None, Some("user_2"), Some("user_1")];
        for n in 0..24_usize {
            let mut lead = lead(
                organization,
                &format!("f{n}@example.com"),
                at(T0 + i64::try_from(n % 5).expect("small")),
            );
            lead.status = statuses[n % 3];
            lead.source.utm_source = sources[n / 3 % 3].map(str::to_owned);
            lead.assigned_to_id = assignees[n % 4].map(str::to_owned);
            leads.push(store.lead_insert(lead).await.expect("insert"));
        }

        let filters = [
            LeadFilter {
                status: Some(LeadStatus::Qualified),
                ..LeadFilter::default()
            },
            LeadFilter {
                status: Some(LeadStatus::Closed),
                ..LeadFilter::default()
            },
            LeadFilter {
                utm_source: Some("google".to_owned()),
                ..LeadFilter::default()
            },
            LeadFilter {
                utm_source: Some("GOOGLE".to_owned()),
                ..LeadFilter::default()
            },
            LeadFilter {
                assigned_to_id: Some("user_1".to_owned()),
                ..LeadFilter::default()
            },
            LeadFilter {
                status: Some(LeadStatus::New),
                utm_source: Some("bing".to_owned()),
                assigned_to_id: Some("user_1".to_owned()),
            },
        ];
        for filter in filters {
            let matching: Vec<Lead> = leads
                .iter()
                .filter(|lead| {
                    filter.status.is_none_or(|status| lead.status == status)
                        && filter
                            .utm_source
                            .as_ref()
                            .is_none_or(|source| lead.source.utm_source.as_ref() == Some(source))
                        && filter
                            .assigned_to_id
                            .as_ref()
                            .is_none_or(|user| lead.assigned_to_id.as_ref() == Some(user))
                })
                .cloned()
                .collect();
            let expected = ids(&in_list_order(matching));

            let listed = store
                .lead_list(organization, filter.clone(), None, 1000)
                .await
                .expect("list");
            assert_eq!(ids(&listed), expected, "{filter:?}");

            // And page by page, so the filter and the keyset bind in the right places.
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .lead_list(organization, filter.clone(), after, 2)
                    .await
                    .expect("list");
                let Some(last) = page.last() else { break };
                after = Some(last.keyset());
                paged.extend(ids(&page));
            }
            assert_eq!(paged, expected, "paged {filter:?}");
        }
    }

    #[tokio::test]
    async fn each_list_query_reads_an_index_in_order() {
        let (dir, _store, organization) = open().await;
        let raw = raw(&dir);
        let keyset = Keyset {
            created_at: at(T0),
            id: Uuid::new_v4(),
        };
        let filters = [
            (LeadFilter::default(), "leads_by_created"),
            (
                LeadFilter {
                    status: Some(LeadStatus::New),
                    ..LeadFilter::default()
                },
                "leads_by_status",
            ),
            (
                LeadFilter {
                    utm_source: Some("google".to_owned()),
                    ..LeadFilter::default()
                },
                "leads_by_utm_source",
            ),
            (
                LeadFilter {
                    assigned_to_id: Some("user_1".to_owned()),
                    ..LeadFilter::default()
                },
                "leads_by_assignee",
            ),
        ];
        for (filter, index) in filters {
            for after in [None, Some(keyset)] {
                let (sql, parameters) = list_query(organization, &filter, after, 10);
                let plan: Vec<String> = raw
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .and_then(|mut statement| {
                        statement
                            .query_map(params_from_iter(parameters), |row| row.get(3))?
                            .collect::<rusqlite::Result<_>>()
                    })
                    .expect("plan");
                let plan = plan.join("; ");
                assert!(plan.contains(index), "{filter:?} {after:?}: {plan}");
                assert!(
                    !plan.contains("TEMP B-TREE"),
                    "{filter:?} {after:?}: {plan}"
                );
                if after.is_some() {
                    assert!(plan.contains("created_at<"), "{filter:?} seeks: {plan}");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_corrupt_json_column_is_an_internal_error() {
        let (dir, store, organization) = open().await;
        let lead = store
            .lead_insert(full_lead(organization))
            .await
            .expect("insert");
        // An array, as the schema checks, but of something other than objects.
        raw(&dir)
            .execute(
                "UPDATE leads SET notes = '[1]' WHERE id = ?",
                [id_text(lead.id)],
            )
            .expect("corrupt");
        assert_internal(store.lead_get(organization, lead.id).await);
        assert_internal(list_all_result(&store, organization).await);
        let changes = LeadChanges {
            company: Some("x".to_owned()),
            ..LeadChanges::default()
        };
        assert_internal(
            store
                .lead_update(organization, lead.id, changes, at(T0))
                .await,
        );
    }

    async fn list_all_result(
        store: &SqliteStore,
        organization: OrganizationId,
    ) -> Result<Vec<Lead>, StoreError> {
        store
            .lead_list(organization, LeadFilter::default(), None, 1000)
            .await
    }

    #[tokio::test]
    async fn api_keys_are_found_by_hash() {
        let (_dir, store, acme) = open().await;
        let globex = store.organization_ensure("globex").await.expect("globex");
        let acme_hash: KeyHash = [1; 32];
        let globex_hash: KeyHash = [2; 32];
        let acme_key = store
            .api_key_insert(acme, acme_hash, at(T0))
            .await
            .expect("insert");
        let globex_key = store
            .api_key_insert(globex, globex_hash, at(T0))
            .await
            .expect("insert");
        assert_ne!(acme_key, globex_key);

        assert_eq!(
            store.api_key_find(acme_hash).await.expect("find"),
            Some((acme_key, acme))
        );
        assert_eq!(
            store.api_key_find(globex_hash).await.expect("find"),
            Some((globex_key, globex))
        );
        assert_eq!(store.api_key_find([3; 32]).await.expect("find"), None);
    }

    #[tokio::test]
    async fn an_api_key_of_an_unknown_organization_is_refused() {
        let (_dir, store, _) = open().await;
        let nobody = OrganizationId(Uuid::new_v4());
        assert_internal(store.api_key_insert(nobody, [9; 32], at(T0)).await);
        assert_eq!(store.api_key_find([9; 32]).await.expect("find"), None);
    }

    #[tokio::test]
    async fn a_new_database_is_empty_until_an_organization_exists() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("leads.db")).expect("open");
        assert!(store.is_empty().await.expect("is_empty"));
        store.organization_ensure("acme").await.expect("ensure");
        assert!(!store.is_empty().await.expect("is_empty"));
    }

    #[tokio::test]
    async fn organization_ensure_is_idempotent() {
        let (_dir, store, acme) = open().await;
        assert_eq!(
            store.organization_ensure("acme").await.expect("again"),
            acme
        );
        let globex = store.organization_ensure("globex").await.expect("globex");
        assert_ne!(globex, acme);
        assert_eq!(
            store.organization_ensure("globex").await.expect("again"),
            globex
        );
        assert_eq!(
            store.organization_ensure("acme").await.expect("again"),
            acme
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_reads_and_writes_all_complete() {
        let (_dir, store, organization) = open().await;
        let store = Arc::new(store);
        // Far more tasks than readers, so some must wait for a connection.
        let tasks: Vec<_> = (0..64)
            .map(|n| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let lead = lead(organization, &format!("c{n}@example.com"), at(T0 + n));
                    let stored = store.lead_insert(lead).await?;
                    store.health().await?;
                    store
                        .lead_list(organization, LeadFilter::default(), None, 10)
                        .await?;
                    store.lead_get(organization, stored.id).await
                })
            })
            .collect();
        for task in tasks {
            let got = task.await.expect("task").expect("store");
            assert!(got.is_some());
        }
        assert_eq!(list_all(&store, organization).await.len(), 64);
    }
}
