//! Keys found valid, remembered for as long as the database file has not changed, so that an
//! authenticated read costs one trip to a reader instead of two.
//!
//! A key may be revoked by another process (`leads-server keys revoke`), and a revoked key
//! must be refused from its next request. Nothing tells this process of another's commit but
//! the file: SQLite's `PRAGMA data_version` changes whenever another connection has committed
//! to it, from this process or another. A remembered key is used only while the version read
//! before it was looked up is still the file's; any commit since (a create, a revocation)
//! sends the next lookup to the database again. So the cache serves read-heavy traffic and
//! steps aside under writes, and it is never wrong.
//!
//! Reading the version is a check of the WAL index in shared memory, with no disk I/O, cheap
//! enough to run on the async thread under a mutex.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::errors::Context;
use super::pool;
use crate::domain::{ApiKeyId, OrganizationId};
use crate::store::{KeyHash, StoreError};

/// Enough for every key of a busy server; an evicted key is looked up again.
const REMEMBERED: usize = 10_000;

/// A key's caller, and the file's version when it was looked up.
type Found = (ApiKeyId, OrganizationId, i64);

pub(super) struct KeyCache {
    /// A connection of its own, read-only, that only reads the version.
    probe: Mutex<Connection>,
    found: quick_cache::sync::Cache<KeyHash, Found>,
}

impl KeyCache {
    /// A cache of keys of the database at `path`, whose schema must be in place.
    pub(super) fn open(path: &Path) -> Result<KeyCache, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let probe = Connection::open_with_flags(path, flags)
            .and_then(|probe| pool::configure(&probe).map(|()| probe))
            .context(&format!(
                "opening the key cache's probe of {}",
                path.display()
            ))?;
        Ok(KeyCache {
            probe: Mutex::new(probe),
            found: quick_cache::sync::Cache::new(REMEMBERED),
        })
    }

    /// The file's version now: read it before looking a key up, and remember the key with it.
    pub(super) fn version(&self) -> Result<i64, StoreError> {
        let probe = self
            .probe
            .lock()
            .map_err(|_| StoreError::Internal("the key cache's probe was poisoned".into()))?;
        probe
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .context("reading the database's version")
    }

    /// The caller of `hash`, if it was found valid at `version`, the file's version now.
    pub(super) fn get(&self, hash: &KeyHash, version: i64) -> Option<(ApiKeyId, OrganizationId)> {
        match self.found.get(hash) {
            Some((key, organization, at)) if at == version => Some((key, organization)),
            _ => None,
        }
    }

    /// Remembers that `hash` was found valid, for `caller`, by a lookup that began at
    /// `version`.
    pub(super) fn insert(
        &self,
        hash: KeyHash,
        (key, organization): (ApiKeyId, OrganizationId),
        version: i64,
    ) {
        self.found.insert(hash, (key, organization, version));
    }
}
