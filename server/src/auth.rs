//! API keys: how they are made, stored (as SHA-256 hashes only) and checked.
//!
//! A key is `aura_pk_live_` followed by 40 characters from the operating system's CSPRNG
//! (about 238 bits), so a fast hash is enough: there is nothing to brute-force, and the hash
//! can be looked up by index.

use http::HeaderMap;
use rand::TryRngCore;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

use crate::domain::{ApiKeyId, OrganizationId};
use crate::error::Error;
use crate::store::{KeyHash, Store};

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

/// Creates a key for the organization called `organization` (created if needed) and returns
/// it: the only time it is ever seen.
pub async fn create_key(store: &dyn Store, organization: &str) -> Result<String, Error> {
    let organization = store.organization_ensure(organization).await?;
    let key = generate_key();
    store
        .api_key_insert(organization, hash_key(&key), chrono::Utc::now())
        .await?;
    Ok(key)
}

/// The caller named by the request's `Authorization: Bearer <key>` header.
pub async fn authenticate(store: &dyn Store, headers: &HeaderMap) -> Result<Caller, Error> {
    let key = bearer_key(headers).ok_or(Error::Unauthorized)?;
    let (key, organization) = store
        .api_key_find(hash_key(key))
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok(Caller { key, organization })
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
