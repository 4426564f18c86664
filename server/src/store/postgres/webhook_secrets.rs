//! The signing secrets of `webhook_subscriptions` as the server's start and its rotations see
//! them: listed by the key that sealed them, one of each key for the check at start, and
//! replaced only if unchanged, which every replica may try at once. (An insert and a claim
//! carry a secret with the rest of their row: they are in `webhooks`.)
//!
//! A secret is `secret` and `secret_key_id`: sealed text and the id of the key that sealed
//! it, or, with no key id, a secret stored in plain text before secrets were sealed. A
//! subscription whose secret was rotated holds the one it replaced the same way, in
//! `previous_secret` and `previous_secret_key_id` ([`SecretSlot::Previous`]).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::errors::internal;
use super::statements::{Value, bound, column, execute, query};
use crate::domain::SigningSecret;
use crate::store::{SealedSecret, SecretSelection, SecretSlot, StoreError, StoredSecret};

/// The secret in `slot`'s two columns of a row read while `doing`, if it holds one.
fn stored_in(row: &Row, doing: &str, slot: SecretSlot) -> Result<Option<StoredSecret>, StoreError> {
    let (secret, key) = slot.columns();
    let Some(secret) = column::<Option<String>>(row, doing, secret)? else {
        return Ok(None);
    };
    Ok(Some(match column::<Option<String>>(row, doing, key)? {
        Some(key_id) => StoredSecret::Sealed(SealedSecret {
            key_id,
            sealed: secret,
        }),
        None => StoredSecret::Plain(SigningSecret::from_stored(secret)),
    }))
}

/// The secret in `slot`'s two columns of a row read while `doing`, which must hold one.
fn held_in(row: &Row, doing: &str, slot: SecretSlot) -> Result<StoredSecret, StoreError> {
    stored_in(row, doing, slot)?.ok_or_else(|| internal("a secret read is NULL"))
}

/// A secret from its two columns, `secret` and `secret_key_id`, of a row read while `doing`.
pub(super) fn stored(row: &Row, doing: &str) -> Result<StoredSecret, StoreError> {
    held_in(row, doing, SecretSlot::Current)
}

/// The previous secret of a claimed delivery's subscription, from its three columns, while
/// it has not expired at `now`.
pub(super) fn previous(
    row: &Row,
    doing: &str,
    now: DateTime<Utc>,
) -> Result<Option<StoredSecret>, StoreError> {
    let expires_at: Option<DateTime<Utc>> = column(row, doing, "previous_secret_expires_at")?;
    if expires_at.is_none_or(|expires_at| expires_at <= now) {
        return Ok(None);
    }
    stored_in(row, doing, SecretSlot::Previous)
}

pub(super) async fn list(
    client: &impl GenericClient,
    slot: SecretSlot,
    selection: &SecretSelection,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<(Uuid, StoredSecret)>, StoreError> {
    let (secret, key) = slot.columns();
    let mut values: Vec<Value> = vec![Box::new(i64::from(limit))];
    let mut sql = format!(
        "SELECT id, {secret}, {key} FROM webhook_subscriptions WHERE {secret} IS NOT NULL AND "
    );
    match selection {
        SecretSelection::Plain => sql.push_str(&format!("{key} IS NULL")),
        SecretSelection::NotSealedBy(key_id) => {
            values.push(Box::new(key_id.clone()));
            sql.push_str(&format!("{key} IS DISTINCT FROM $2"));
        }
    }
    if let Some(after) = after {
        values.push(Box::new(after));
        sql.push_str(&format!(" AND id > ${}", values.len()));
    }
    sql.push_str(" ORDER BY id LIMIT $1");
    let doing = "listing webhook secrets";
    query(client, doing, &sql, &bound(&values))
        .await?
        .iter()
        .map(|row| Ok((column(row, doing, "id")?, held_in(row, doing, slot)?)))
        .collect()
}

pub(super) async fn samples(
    client: &impl GenericClient,
) -> Result<Vec<(Uuid, SealedSecret)>, StoreError> {
    let doing = "reading a webhook secret of each key";
    query(
        client,
        doing,
        "SELECT DISTINCT ON (secret_key_id) id, secret, secret_key_id FROM \
         (SELECT id, secret, secret_key_id FROM webhook_subscriptions \
         WHERE secret_key_id IS NOT NULL UNION ALL \
         SELECT id, previous_secret, previous_secret_key_id FROM webhook_subscriptions \
         WHERE previous_secret IS NOT NULL AND previous_secret_key_id IS NOT NULL) AS sealed \
         ORDER BY secret_key_id, id",
        &[],
    )
    .await?
    .iter()
    .map(|row| {
        Ok((
            column(row, doing, "id")?,
            SealedSecret {
                key_id: column(row, doing, "secret_key_id")?,
                sealed: column(row, doing, "secret")?,
            },
        ))
    })
    .collect()
}

pub(super) async fn replace(
    client: &impl GenericClient,
    slot: SecretSlot,
    subscription: Uuid,
    old: &StoredSecret,
    new: &SealedSecret,
) -> Result<bool, StoreError> {
    let (old_secret, old_key_id) = match old {
        StoredSecret::Sealed(sealed) => (sealed.sealed.as_str(), Some(sealed.key_id.as_str())),
        StoredSecret::Plain(plain) => (plain.expose(), None),
    };
    // One statement: of replicas sealing the same plain secret at once, one replaces it and
    // the others find it changed.
    let (secret, key) = slot.columns();
    let replaced = execute(
        client,
        "replacing a webhook secret",
        &format!(
            "UPDATE webhook_subscriptions SET {secret} = $1, {key} = $2 \
             WHERE id = $3 AND {secret} = $4 AND {key} IS NOT DISTINCT FROM $5"
        ),
        &[
            &new.sealed,
            &new.key_id,
            &subscription,
            &old_secret,
            &old_key_id,
        ],
    )
    .await?;
    Ok(replaced == 1)
}
