//! The secrets at the server's start, before it serves: its keys loaded, checked against what
//! the database holds, and the secrets of a database from before sealing sealed. And the
//! rotation (`leads-server secrets rotate`): every secret resealed with the sealing key, after
//! which the other keys may be dropped.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use uuid::Uuid;

use super::Keyring;
use super::key_file::{self, KeySource, Loaded};
use crate::config::Database;
use crate::store::{SecretSelection, SecretSlot, Store};

/// How many secrets are read at a time.
const PAGE: u32 = 500;

/// The keys of a started server, and what starting did with them, for the operator to read.
#[derive(Debug)]
pub struct Started {
    pub keys: Arc<Keyring>,
    pub loaded: Loaded,
    /// How many plain secrets were sealed.
    pub sealed: u64,
}

/// Loads the keys of `source` for `database` (making the file beside a new SQLite database),
/// checks them against `store` ([`check`]) and seals its plain secrets ([`seal_plain`]).
pub async fn start(store: &dyn Store, source: &KeySource, database: &Database) -> Result<Started> {
    let none_sealed = store.webhook_secret_samples().await?.is_empty();
    let (keys, loaded) = key_file::load(source, database, none_sealed)?;
    check(store, &keys).await?;
    let sealed = seal_plain(store, &keys).await?;
    Ok(Started {
        keys: Arc::new(keys),
        loaded,
        sealed,
    })
}

/// Fails unless `keys` unseal a secret of each key the database's secrets are sealed with: a
/// wrong or missing key stops the server at start, never a delivery later.
pub async fn check(store: &dyn Store, keys: &Keyring) -> Result<()> {
    for (subscription, sealed) in store.webhook_secret_samples().await? {
        if !keys.key_ids().any(|id| id == sealed.key_id) {
            bail!(
                "the database holds webhook signing secrets sealed with key {}, which is not \
                 among the secrets keys given (keys {}): start with the key file that sealed \
                 them",
                sealed.key_id,
                keys.key_ids().collect::<Vec<_>>().join(", ")
            );
        }
        keys.unseal(subscription, &sealed).with_context(|| {
            format!(
                "the signing secret of subscription {subscription} does not unseal: the \
                 database was altered, or a row copied from another subscription"
            )
        })?;
    }
    Ok(())
}

/// Seals every secret still stored plain (from before secrets were sealed, or a plain one a
/// rotation of its signing secret made previous) with the sealing key, each replacing its
/// plain text in one write, so that none is lost midway; how many.
pub async fn seal_plain(store: &dyn Store, keys: &Keyring) -> Result<u64> {
    reseal(store, keys, SecretSelection::Plain).await
}

/// Reseals with the sealing key every secret sealed with another key, or still plain; how
/// many. The other keys then unseal nothing the database holds and may be removed, once every
/// process using the database has the sealing key.
pub async fn rotate(store: &dyn Store, keys: &Keyring) -> Result<u64> {
    check(store, keys).await?;
    let selection = SecretSelection::NotSealedBy(keys.sealing_key_id().to_owned());
    reseal(store, keys, selection).await
}

/// Reseals the secrets `selection` names in both slots: a subscription's previous secret
/// (while a rotation of its signing secret overlaps) is sealed like its current one, and a key
/// that still sealed one could not be removed.
async fn reseal(store: &dyn Store, keys: &Keyring, selection: SecretSelection) -> Result<u64> {
    let mut resealed = 0;
    for slot in SecretSlot::ALL {
        resealed += reseal_slot(store, keys, slot, &selection).await?;
    }
    Ok(resealed)
}

async fn reseal_slot(
    store: &dyn Store,
    keys: &Keyring,
    slot: SecretSlot,
    selection: &SecretSelection,
) -> Result<u64> {
    let mut resealed = 0;
    let mut after: Option<Uuid> = None;
    loop {
        let page = store
            .webhook_secrets(slot, selection.clone(), after, PAGE)
            .await?;
        let Some((last, _)) = page.last() else {
            return Ok(resealed);
        };
        after = Some(*last);
        for (subscription, stored) in page {
            let secret = keys
                .open(subscription, &stored)
                .with_context(|| format!("unsealing the secret of subscription {subscription}"))?;
            let sealed = keys
                .seal(subscription, &secret)
                .with_context(|| format!("sealing the secret of subscription {subscription}"))?;
            // Another process may have resealed it, or its subscription been deleted: then it
            // is left as that made it.
            if store
                .webhook_secret_replace(slot, subscription, stored, sealed)
                .await?
            {
                resealed += 1;
            }
        }
    }
}
