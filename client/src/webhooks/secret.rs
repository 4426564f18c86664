//! A subscription's secret, read once into the two keyed MACs that signing and verifying
//! share, so that neither side can key them differently.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::VerifyError;

/// What every secret starts with.
pub(super) const SECRET_PREFIX: &str = "whsec_";

/// How many bytes the key of a secret has (the base64 after its prefix, decoded).
const KEY_LEN: usize = 32;

pub(super) type HmacSha256 = Hmac<Sha256>;

/// A subscription's secret, checked, as the two MACs it keys: `X-Aura-Signature`'s, keyed with
/// the text as shown, and `webhook-signature`'s, keyed with the bytes its base64 stands for.
/// No `Debug`, so that it cannot be printed by accident.
pub(super) struct Secret {
    pub(super) aura: HmacSha256,
    pub(super) standard: HmacSha256,
}

impl Secret {
    pub(super) fn parse(secret: &str) -> Result<Self, VerifyError> {
        let malformed = |reason| VerifyError::MalformedSecret { reason };
        if secret.trim() != secret {
            return Err(malformed("it has whitespace before or after it"));
        }
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(malformed("it does not start with `whsec_`"))?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| malformed("what follows `whsec_` is not base64 (standard, padded)"))?;
        if key.len() != KEY_LEN {
            return Err(malformed(
                "what follows `whsec_` is not 32 bytes long once decoded (is it cut short?)",
            ));
        }
        let keyed = |key: &[u8]| {
            HmacSha256::new_from_slice(key).map_err(|_| malformed("HMAC refuses it as a key"))
        };
        Ok(Self {
            aura: keyed(secret.as_bytes())?,
            standard: keyed(&key)?,
        })
    }

    /// The MAC of `X-Aura-Signature`, fed the body.
    pub(super) fn aura_mac(&self, body: &[u8]) -> HmacSha256 {
        let mut mac = self.aura.clone();
        mac.update(body);
        mac
    }

    /// The MAC of a `v1` entry of `webhook-signature`, fed `<id>.<timestamp>.<body>`.
    pub(super) fn standard_mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = self.standard.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}
