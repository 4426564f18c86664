//! API keys: how they are made, stored (as SHA-256 hashes only) and checked.
//!
//! A key is `aura_pk_live_` followed by 40 characters from the operating system's CSPRNG
//! (about 238 bits), so a fast hash is enough: there is nothing to brute-force, and the hash
//! can be looked up by index.
//!
//! Unknown keys are made cheap to refuse ([`Authenticator`]): a key once looked up and not
//! found is refused from memory after that, and a client address may present only so many
//! keys the server has not yet seen valid (the [`AddressLimiter`]), so a flood of made-up keys
//! cannot queue database lookups ahead of real callers'.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;
use rand::TryRngCore;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

use crate::domain::{ApiKeyId, OrganizationId};
use crate::error::Error;
use crate::ratelimit::AddressLimiter;
use crate::store::{KeyHash, NewApiKey, Store};

/// What every key starts with.
pub const KEY_PREFIX: &str = "aura_pk_live_";

/// How many random characters follow the prefix in the keys this server makes.
const KEY_RANDOM_CHARS: usize = 40;

/// The fewest random characters a key may have to be accepted.
const KEY_MIN_RANDOM_CHARS: usize = 32;

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub key: ApiKeyId,
    pub organization: OrganizationId,
}

/// A new random key. Shown once to whoever asked for it; only its hash is stored.
pub fn generate_key() -> String {
    let mut rng = rand::rngs::OsRng.unwrap_err();
    format!(
        "{KEY_PREFIX}{}",
        Alphanumeric.sample_string(&mut rng, KEY_RANDOM_CHARS)
    )
}

pub fn hash_key(key: &str) -> KeyHash {
    Sha256::digest(key.as_bytes()).into()
}

/// How many random characters of a key its prefix shows: enough to tell keys apart, far too
/// few to guess the rest from.
const PREFIX_RANDOM_CHARS: usize = 8;

/// The part of `key` that `keys list` shows and `keys revoke` takes.
pub fn key_prefix(key: &str) -> String {
    key.chars()
        .take(KEY_PREFIX.len() + PREFIX_RANDOM_CHARS)
        .collect()
}

/// What to do when a key is asked for an organization that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingOrganization {
    Create,
    /// Refuse, so that a typo cannot create a stray organization.
    Refuse,
}

/// Creates a key for the organization called `organization` and returns it: the only time
/// it is ever seen.
pub async fn create_key(
    store: &dyn Store,
    organization: &str,
    missing: MissingOrganization,
) -> Result<String, Error> {
    let organization = match (store.organization_find(organization).await?, missing) {
        (Some(found), _) => found,
        (None, MissingOrganization::Create) => store.organization_ensure(organization).await?,
        (None, MissingOrganization::Refuse) => {
            return Err(Error::invalid(format!(
                "no organization is called `{organization}`"
            )));
        }
    };
    let key = generate_key();
    store
        .api_key_insert(NewApiKey {
            organization,
            hash: hash_key(&key),
            prefix: key_prefix(&key),
            created_at: chrono::Utc::now(),
        })
        .await?;
    Ok(key)
}

/// How often a key's last use is written, at most.
const LAST_USE_PRECISION: Duration = Duration::from_secs(60);

/// When each key's last use was last written, so that it is written at most once a
/// [`LAST_USE_PRECISION`] rather than on every request.
#[derive(Default)]
struct LastUse(Mutex<HashMap<ApiKeyId, Instant>>);

impl LastUse {
    fn due(&self, key: ApiKeyId) -> bool {
        let now = Instant::now();
        // A poisoned lock only means another request panicked here; the times are usable.
        let mut written = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        match written.get(&key) {
            Some(last) if now.duration_since(*last) < LAST_USE_PRECISION => false,
            _ => {
                written.insert(key, now);
                true
            }
        }
    }
}

/// How many key hashes each of the [`Authenticator`]'s memories holds.
const REMEMBERED_KEYS: usize = 10_000;

/// Checks the keys of requests, and remembers what it learns so that unknown keys cost
/// little.
pub struct Authenticator {
    last_use: LastUse,
    /// Hashes looked up and not found. Keys are random, so a key not found now could only
    /// exist later by being guessed: refusing it from memory is always truthful, and a client
    /// retrying with a stale or revoked key costs no lookup.
    unknown: quick_cache::sync::Cache<KeyHash, ()>,
    /// Hashes found valid: they are exempt from the address limit, never from the store's
    /// lookup, so that a key revoked on any server is refused from its next request on. (The
    /// SQLite store may answer that lookup from memory, but only while no commit has touched
    /// the file since; the PostgreSQL store, only while it listens for revocations, so that
    /// another replica's reaches it when its notification arrives.)
    familiar: quick_cache::sync::Cache<KeyHash, ()>,
    per_address: AddressLimiter,
}

impl Authenticator {
    /// An authenticator that lets each client address present `unfamiliar_keys_per_minute`
    /// keys it has not seen valid (`0`: no limit).
    pub fn new(unfamiliar_keys_per_minute: u32) -> Self {
        Self {
            last_use: LastUse::default(),
            unknown: quick_cache::sync::Cache::new(REMEMBERED_KEYS),
            familiar: quick_cache::sync::Cache::new(REMEMBERED_KEYS),
            per_address: AddressLimiter::new(unfamiliar_keys_per_minute),
        }
    }

    /// The caller named by the request's `Authorization: Bearer <key>` header, sent from
    /// `address`. A revoked key is unknown from the moment it is revoked. `429` when the
    /// address has presented too many unfamiliar keys: the key may be valid, but it is not
    /// looked up.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        headers: &HeaderMap,
        address: IpAddr,
    ) -> Result<Caller, Error> {
        let hash = hash_key(bearer_key(headers).ok_or(Error::Unauthorized)?);
        if self.unknown.get(&hash).is_some() {
            return Err(Error::Unauthorized);
        }
        if self.familiar.get(&hash).is_none() {
            self.per_address.admit(address)?;
        }
        let Some((key, organization)) = store.api_key_find(hash).await? else {
            self.familiar.remove(&hash);
            self.unknown.insert(hash, ());
            return Err(Error::Unauthorized);
        };
        self.familiar.insert(hash, ());
        if self.last_use.due(key) {
            store.api_key_touch(key, chrono::Utc::now()).await?;
        }
        Ok(Caller { key, organization })
    }
}

/// The well-formed key of an `Authorization: Bearer` header, if there is one.
fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let key = key.trim();
    let random = key.strip_prefix(KEY_PREFIX)?;
    let well_formed =
        random.len() >= KEY_MIN_RANDOM_CHARS && random.chars().all(|c| c.is_ascii_alphanumeric());
    well_formed.then_some(key)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let key = generate_key();
        assert!(key.starts_with(KEY_PREFIX));
        assert_eq!(key.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        assert_eq!(
            bearer_key(&headers(&format!("Bearer {key}"))),
            Some(key.as_str())
        );
        assert_ne!(key, generate_key());
    }

    #[test]
    fn malformed_headers_name_no_key() {
        let short = format!("Bearer {KEY_PREFIX}abc");
        let wrong_prefix = format!("Bearer sk_{}", "a".repeat(40));
        let not_bearer = format!("Basic {KEY_PREFIX}{}", "a".repeat(40));
        let odd_chars = format!("Bearer {KEY_PREFIX}{}!", "a".repeat(40));
        for value in [
            short.as_str(),
            &wrong_prefix,
            &not_bearer,
            &odd_chars,
            "Bearer",
            "",
        ] {
            assert_eq!(bearer_key(&headers(value)), None, "{value}");
        }
        assert_eq!(bearer_key(&HeaderMap::new()), None);
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let key = generate_key();
        assert_eq!(
            bearer_key(&headers(&format!("bearer {key}"))),
            Some(key.as_str())
        );
    }

    #[test]
    fn hashes_are_sha256() {
        assert_eq!(
            hash_key("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256 of `abc` starts ba7816bf"
        );
    }
}
