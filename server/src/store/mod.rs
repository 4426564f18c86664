//! Storage behind a small interface, so that handlers never see SQL and another backend
//! (PostgreSQL) can be added without touching them. [`sqlite`] is the embedded default.
//!
//! Every method is scoped by organization where leads are concerned: a lead of another
//! organization is never returned, changed or counted.

pub mod sqlite;
#[cfg(test)]
mod suite;

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{ApiKeyId, Keyset, Lead, LeadChanges, LeadFilter, OrganizationId};

/// The SHA-256 of an API key: all the store ever sees of a key.
pub type KeyHash = [u8; 32];

/// A key to store: never the key itself, only its hash and its (non-secret) prefix.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub organization: OrganizationId,
    pub hash: KeyHash,
    /// The key's first characters, which tell keys apart in `keys list` and `keys revoke`.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
}

/// What `keys list` shows of a key: never the key or its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: ApiKeyId,
    /// `None` for keys made before prefixes were kept.
    pub prefix: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a revocation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked(ApiKeyId),
    /// No unrevoked key has this prefix or id.
    NotFound,
    /// More than one unrevoked key has this prefix: give a longer one, or the id.
    Ambiguous,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another lead of the organization already has this email (case-insensitively).
    #[error("a lead with this email already exists")]
    EmailTaken,
    /// Anything else: I/O, a corrupt database, a bug. Logged, never shown to clients.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// A switch that makes every call of a store fail as a broken database would, so that tests
/// can see what clients get then (`TestServer::fail_storage`). Each backend checks it where
/// all its calls pass; it is off unless switched on.
#[derive(Debug, Default)]
pub struct FaultSwitch {
    failing: AtomicBool,
    panicking: AtomicBool,
}

impl FaultSwitch {
    /// Every later call fails (`true`), or works again (`false`).
    pub fn set(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every later call panics, in the caller's task (`true`), or works again (`false`).
    pub fn set_panicking(&self, panicking: bool) {
        self.panicking.store(panicking, Ordering::SeqCst);
    }

    /// [`StoreError::Internal`] while the switch is on; a panic while it panics.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.panicking.load(Ordering::SeqCst) {
            panic!("a storage panic injected through the store's FaultSwitch");
        }
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Internal(
                "a storage failure injected through the store's FaultSwitch".to_string(),
            ))
        } else {
            Ok(())
        }
    }
}

/// What the server needs from storage.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Whether no organization exists yet (a new database).
    async fn is_empty(&self) -> Result<bool, StoreError>;

    /// The organization called `name`, created if it does not exist.
    async fn organization_ensure(&self, name: &str) -> Result<OrganizationId, StoreError>;

    /// The organization called `name`, if it exists.
    async fn organization_find(&self, name: &str) -> Result<Option<OrganizationId>, StoreError>;

    /// Stores a new API key by its hash and prefix.
    async fn api_key_insert(&self, key: NewApiKey) -> Result<ApiKeyId, StoreError>;

    /// Every key of `organization`, revoked ones included, oldest first.
    async fn api_key_list(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<ApiKeyInfo>, StoreError>;

    /// Revokes the one unrevoked key whose prefix (or id) is `prefix`, as of `at`.
    async fn api_key_revoke(
        &self,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<RevokeOutcome, StoreError>;

    /// Records that `key` was used at `at`.
    async fn api_key_touch(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The unrevoked key with this hash and its organization, if it exists.
    async fn api_key_find(
        &self,
        hash: KeyHash,
    ) -> Result<Option<(ApiKeyId, OrganizationId)>, StoreError>;

    /// Stores a new lead. [`StoreError::EmailTaken`] if the organization already has a lead
    /// with this email, compared case-insensitively.
    async fn lead_insert(&self, lead: Lead) -> Result<Lead, StoreError>;

    /// The organization's lead with this id.
    async fn lead_get(
        &self,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Option<Lead>, StoreError>;

    /// Applies `changes` to the organization's lead atomically and sets `updated_at` to
    /// `now`; with no changes, returns the lead untouched. `None` if there is no such lead;
    /// [`StoreError::EmailTaken`] if the new email belongs to another of its leads.
    async fn lead_update(
        &self,
        organization: OrganizationId,
        id: Uuid,
        changes: LeadChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Lead>, StoreError>;

    /// At most `limit` of the organization's leads matching `filter`, newest first
    /// (`created_at` descending, then `id` descending), starting strictly after `after`.
    async fn lead_list(
        &self,
        organization: OrganizationId,
        filter: LeadFilter,
        after: Option<Keyset>,
        limit: u32,
    ) -> Result<Vec<Lead>, StoreError>;
}
