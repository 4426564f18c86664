//! Webhook signing secrets sealed at rest: the server's keys, and the sealing and unsealing of
//! each subscription's secret with them. A copy of the database alone no longer signs anyone's
//! webhooks.
//!
//! The store keeps sealed text and the id of the key that sealed it, and never sees a key
//! (`crate::store::SealedSecret`). A secret is sealed above it: when a subscription is made
//! (`api::webhooks`), and when the server starts or rotates (`at_start`); and unsealed by the
//! delivery worker before it signs (`webhooks`).
//!
//! The AEAD is XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`): a 256-bit key, a random
//! 192-bit nonce per seal, so that replicas sealing at once need no shared counter. The
//! associated data binds a sealed secret to its subscription and its key: moved to another
//! subscription's row, or labelled with another key, it no longer unseals.
//!
//! A keyring holds one or more keys (`key_file` reads them): the first seals, every one
//! unseals, so a key can be rotated without losing a secret. A key's id is a hash of the key,
//! so a wrong key is told apart from the right one by its id alone. Neither keys nor secrets
//! are ever written to a log or an error; key ids are not secret.

pub mod at_start;
pub mod key_file;

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::SigningSecret;
use crate::store::{SealedSecret, StoredSecret};

/// The bytes of a key.
pub const KEY_BYTES: usize = 32;

/// The first byte of every sealed secret: how it was sealed. A new way gets a new version,
/// and secrets of the old one still unseal.
const VERSION: u8 = 1;

const NONCE_BYTES: usize = 24;

/// What the associated data starts with, so that nothing else sealed with the same key could
/// pass for a signing secret.
const PURPOSE: &[u8] = b"leads-server webhook signing secret";

/// Why a secret could not be sealed or unsealed. None of them carries a key or a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the secret is sealed by key {0}, which the server's keys do not include")]
    UnknownKey(String),
    #[error("the sealed secret is malformed")]
    Malformed,
    /// The wrong key under the right id cannot happen short of a hash collision: this is a
    /// sealed secret moved from another subscription, or altered.
    #[error("the sealed secret does not unseal for this subscription with key {0}")]
    Refused(String),
    #[error("sealing failed")]
    Sealing,
}

/// One key: its id, and its cipher.
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn new(bytes: &[u8; KEY_BYTES]) -> Self {
        Self {
            id: key_id(bytes),
            cipher: XChaCha20Poly1305::new(&(*bytes).into()),
        }
    }
}

/// The id of a key: the first 8 bytes of a SHA-256 of it, in hex. Not secret: it tells which
/// key sealed a secret, and says nothing of the key.
fn key_id(bytes: &[u8; KEY_BYTES]) -> String {
    let digest = Sha256::new()
        .chain_update(b"leads-server secrets key id\0")
        .chain_update(bytes)
        .finalize();
    hex::encode(&digest[..8])
}

/// The server's keys: the first seals, every one unseals.
pub struct Keyring {
    sealing: Key,
    /// The others, which only unseal.
    older: Vec<Key>,
}

impl Keyring {
    /// A keyring of `keys`, the first the one that seals; `None` if there are none.
    pub fn new(keys: &[[u8; KEY_BYTES]]) -> Option<Self> {
        let (sealing, older) = keys.split_first()?;
        Some(Self {
            sealing: Key::new(sealing),
            older: older.iter().map(Key::new).collect(),
        })
    }

    /// A keyring of one new random key that lives only as long as the value: for a server
    /// whose database goes with it (tests). A server that must unseal its secrets again after
    /// a restart loads its keys (`key_file`).
    pub fn generate() -> Self {
        Self {
            sealing: Key::new(&new_key()),
            older: Vec::new(),
        }
    }

    /// The id of the key that seals.
    pub fn sealing_key_id(&self) -> &str {
        &self.sealing.id
    }

    /// Every key, the sealing one first.
    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.sealing).chain(&self.older)
    }

    /// The ids of every key, the sealing one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys().map(|key| key.id.as_str())
    }

    /// `secret`, sealed for `subscription` with the first key.
    pub fn seal(
        &self,
        subscription: Uuid,
        secret: &SigningSecret,
    ) -> Result<SealedSecret, SealError> {
        let key = &self.sealing;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(subscription, &key.id);
        let ciphertext = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Sealing)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedSecret {
            key_id: key.id.clone(),
            sealed: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// The secret `sealed` holds, if it was sealed for `subscription` with one of the keys.
    pub fn unseal(
        &self,
        subscription: Uuid,
        sealed: &SealedSecret,
    ) -> Result<SigningSecret, SealError> {
        let key = self
            .keys()
            .find(|key| key.id == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(&sealed.sealed)
            .map_err(|_| SealError::Malformed)?;
        let (version, rest) = bytes.split_first().ok_or(SealError::Malformed)?;
        if *version != VERSION || rest.len() < NONCE_BYTES {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let aad = associated_data(subscription, &key.id);
        let plain = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Refused(key.id.clone()))?;
        String::from_utf8(plain)
            .map(SigningSecret::from_stored)
            .map_err(|_| SealError::Malformed)
    }

    /// The secret of `subscription` as stored: unsealed, or as it is if still plain.
    pub fn open(
        &self,
        subscription: Uuid,
        stored: &StoredSecret,
    ) -> Result<SigningSecret, SealError> {
        match stored {
            StoredSecret::Sealed(sealed) => self.unseal(subscription, sealed),
            StoredSecret::Plain(plain) => Ok(plain.clone()),
        }
    }
}

impl fmt::Debug for Keyring {
    /// The keys' ids only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish()
    }
}

/// A new random key, from the operating system's generator.
pub fn new_key() -> [u8; KEY_BYTES] {
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    key
}

/// What a sealed secret is bound to: its purpose, the format's version, its subscription and
/// the id of the key that sealed it.
fn associated_data(subscription: Uuid, key_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(PURPOSE.len() + 2 + 16 + key_id.len());
    aad.extend_from_slice(PURPOSE);
    aad.push(0);
    aad.push(VERSION);
    aad.extend_from_slice(subscription.as_bytes());
    aad.extend_from_slice(key_id.as_bytes());
    aad
}

#[cfg(test)]
mod tests;
