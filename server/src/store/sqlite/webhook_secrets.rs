//! The signing secrets of `webhook_subscriptions` as the server's start and its rotations see
//! them: listed by the key that sealed them, one of each key for the check at start, and
//! replaced only if unchanged. (An insert and a claim carry a secret with the rest of their
//! row: they are in `webhooks`.)
//!
//! A secret is `secret` and `secret_key_id`: sealed text and the id of the key that sealed
//! it, or, with no key id, a secret stored in plain text before secrets were sealed. A
//! subscription whose secret was rotated holds the one it replaced the same way, in
//! `previous_secret` and `previous_secret_key_id` ([`SecretSlot::Previous`]).

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use rusqlite::types::Value;
use uuid::Uuid;

use super::errors::Context;
use super::values::{id_text, micros, parse_id};
use crate::domain::SigningSecret;
use crate::store::{SealedSecret, SecretSelection, SecretSlot, StoreError, StoredSecret};

/// A secret from its two columns.
pub(super) fn stored(secret: String, key_id: Option<String>) -> StoredSecret {
    match key_id {
        Some(key_id) => StoredSecret::Sealed(SealedSecret {
            key_id,
            sealed: secret,
        }),
        None => StoredSecret::Plain(SigningSecret::from_stored(secret)),
    }
}

/// A secret's two columns: `secret` and `secret_key_id`.
fn columns(secret: &StoredSecret) -> (&str, Option<&str>) {
    match secret {
        StoredSecret::Sealed(sealed) => (&sealed.sealed, Some(&sealed.key_id)),
        StoredSecret::Plain(plain) => (plain.expose(), None),
    }
}

/// The previous secret of a claimed delivery's subscription, from its three columns, while
/// it has not expired at `now`.
pub(super) fn previous(
    (secret, key_id, expires_at): (Option<String>, Option<String>, Option<i64>),
    now: DateTime<Utc>,
) -> Option<StoredSecret> {
    let unexpired = expires_at.is_some_and(|expires_at| expires_at > micros(now));
    secret
        .filter(|_| unexpired)
        .map(|secret| stored(secret, key_id))
}

pub(super) fn list(
    connection: &Connection,
    slot: SecretSlot,
    selection: &SecretSelection,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<(Uuid, StoredSecret)>, StoreError> {
    let (secret, key) = slot.columns();
    // Every id's text sorts after the empty text.
    let mut parameters = vec![Value::Text(after.map(id_text).unwrap_or_default())];
    let which = match selection {
        SecretSelection::Plain => format!("{key} IS NULL"),
        SecretSelection::NotSealedBy(key_id) => {
            parameters.push(Value::Text(key_id.clone()));
            format!("({key} IS NULL OR {key} != ?2)")
        }
    };
    parameters.push(Value::Integer(i64::from(limit)));
    let limit_index = parameters.len();
    let rows: Vec<(String, String, Option<String>)> = connection
        .prepare_cached(&format!(
            "SELECT id, {secret}, {key} FROM webhook_subscriptions \
             WHERE id > ?1 AND {secret} IS NOT NULL AND {which} ORDER BY id LIMIT ?{limit_index}"
        ))
        .and_then(|mut statement| {
            statement
                .query_map(rusqlite::params_from_iter(parameters), |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
        })
        .context("listing webhook secrets")?;
    rows.into_iter()
        .map(|(id, secret, key_id)| {
            Ok((
                parse_id(&id, "webhook_subscriptions.id")?,
                stored(secret, key_id),
            ))
        })
        .collect()
}

pub(super) fn samples(connection: &Connection) -> Result<Vec<(Uuid, SealedSecret)>, StoreError> {
    // With `min`, SQLite takes the other columns from the row holding the minimum.
    let rows: Vec<(String, String, String)> = connection
        .prepare_cached(
            "SELECT min(id), secret, key_id FROM \
             (SELECT id, secret, secret_key_id AS key_id FROM webhook_subscriptions \
             WHERE secret_key_id IS NOT NULL UNION ALL \
             SELECT id, previous_secret, previous_secret_key_id FROM webhook_subscriptions \
             WHERE previous_secret IS NOT NULL AND previous_secret_key_id IS NOT NULL) \
             GROUP BY key_id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect()
        })
        .context("reading a webhook secret of each key")?;
    rows.into_iter()
        .map(|(id, sealed, key_id)| {
            Ok((
                parse_id(&id, "webhook_subscriptions.id")?,
                SealedSecret { key_id, sealed },
            ))
        })
        .collect()
}

pub(super) fn replace(
    transaction: &Connection,
    slot: SecretSlot,
    subscription: Uuid,
    old: &StoredSecret,
    new: &SealedSecret,
) -> Result<bool, StoreError> {
    let (old_secret, old_key_id) = columns(old);
    // A plain secret must not survive in the page the row is rewritten in, nor in the pages
    // SQLite frees: `secure_delete` zeroes both, for this write only.
    let erasing = matches!(old, StoredSecret::Plain(_));
    let secure_delete: i64 = transaction
        .query_row("PRAGMA secure_delete", [], |row| row.get(0))
        .context("reading secure_delete")?;
    if erasing {
        transaction
            .pragma_update(None, "secure_delete", 1)
            .context("erasing a plain secret")?;
    }
    let (secret, key) = slot.columns();
    let replaced = transaction
        .prepare_cached(&format!(
            "UPDATE webhook_subscriptions SET {secret} = ?1, {key} = ?2 \
             WHERE id = ?3 AND {secret} = ?4 AND {key} IS ?5"
        ))
        .and_then(|mut statement| {
            statement.execute((
                &new.sealed,
                &new.key_id,
                id_text(subscription),
                old_secret,
                old_key_id,
            ))
        })
        .context("replacing a webhook secret");
    if erasing {
        transaction
            .pragma_update(None, "secure_delete", secure_delete)
            .context("restoring secure_delete")?;
    }
    Ok(replaced? == 1)
}
