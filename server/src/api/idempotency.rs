//! `Idempotency-Key` on creates: what identifies a request (its fingerprint), which keys have
//! a request being answered right now, how long answers are kept, and the sweep that forgets
//! them.
//!
//! The answer itself is kept by the store, in the same transaction as the lead. Keys being
//! answered are known only to this process: a crash then forgets them rather than leaving a
//! key stuck "in use". Two replicas answering the same key at once are told apart by the
//! store, which keeps one answer per key.

use std::collections::HashSet;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::OrganizationId;
use crate::error::Error;
use crate::store::Store;

/// How long an answer is kept: a retry within it gets the answer, one after it is new.
pub const KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// How often expired answers are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// The fingerprint of a request for `operation` with the JSON body `body`: SHA-256 of both,
/// the body written compactly with its object keys sorted (serde_json's map is ordered by
/// key), so that the same request matches however its JSON was laid out.
pub fn fingerprint(operation: &str, body: &Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(body.to_string().as_bytes());
    hasher.finalize().into()
}

/// The organizations' keys whose first request is being answered now.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<(OrganizationId, String)>>);

impl InFlight {
    /// Marks `key` of `organization` as being answered until the claim is dropped;
    /// `IDEMPOTENCY_KEY_IN_USE` if it already is.
    pub fn claim(&self, organization: OrganizationId, key: &str) -> Result<Claim<'_>, Error> {
        let entry = (organization, key.to_string());
        // A poisoned lock only means a request panicked while holding it; the set is whole.
        let mut keys = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        if !keys.insert(entry.clone()) {
            return Err(Error::IdempotencyKeyInUse);
        }
        Ok(Claim {
            in_flight: self,
            entry,
        })
    }
}

/// A key being answered; dropping it, however the request ends, frees the key.
#[derive(Debug)]
pub struct Claim<'a> {
    in_flight: &'a InFlight,
    entry: (OrganizationId, String),
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut keys = self
            .in_flight
            .0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        keys.remove(&self.entry);
    }
}

/// Deletes expired answers every [`SWEEP_EVERY`], off the request path, for as long as the
/// store is in use (the server holds the only strong reference).
pub async fn sweep_expired(store: Weak<dyn Store>, log: slog::Logger) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    loop {
        ticks.tick().await;
        let Some(store) = store.upgrade() else {
            return;
        };
        match store.idempotent_answers_sweep(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(swept) => slog::info!(log, "expired idempotent answers deleted"; "count" => swept),
            Err(error) => {
                slog::error!(log, "deleting expired idempotent answers"; "error" => %error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn the_fingerprint_ignores_layout_but_not_content() {
        let sent: Value = serde_json::from_str(r#"{"email": "a@x.com", "phone": "+1"}"#).unwrap();
        let reordered: Value =
            serde_json::from_str(r#"{ "phone":"+1","email":"a@x.com" }"#).unwrap();
        assert_eq!(
            fingerprint("lead_create", &sent),
            fingerprint("lead_create", &reordered)
        );
        let other = json!({"email": "b@x.com", "phone": "+1"});
        assert_ne!(
            fingerprint("lead_create", &sent),
            fingerprint("lead_create", &other)
        );
        assert_ne!(
            fingerprint("lead_create", &sent),
            fingerprint("lead_update", &sent)
        );
    }

    #[test]
    fn a_key_is_in_use_until_its_claim_is_dropped() {
        let in_flight = InFlight::default();
        let organization = OrganizationId(Uuid::new_v4());
        let claim = in_flight.claim(organization, "k").unwrap();
        assert_eq!(
            in_flight.claim(organization, "k").unwrap_err(),
            Error::IdempotencyKeyInUse
        );
        let elsewhere = OrganizationId(Uuid::new_v4());
        assert!(
            in_flight.claim(elsewhere, "k").is_ok(),
            "keys are per organization"
        );
        drop(claim);
        assert!(in_flight.claim(organization, "k").is_ok());
    }

    /// The sweep runs as the server starts and then every ten minutes: an expired answer is
    /// deleted without any request asking, an unexpired one is kept.
    #[tokio::test]
    async fn expired_answers_are_swept_off_the_request_path() {
        use std::sync::Arc;

        use crate::domain::Lead;
        use crate::store::IdempotentAnswer;
        use crate::store::sqlite::SqliteStore;

        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("s.db"), crate::store::test_events()).unwrap(),
        );
        let organization = store.organization_ensure("o").await.unwrap();
        let now = chrono::Utc::now();
        for (key, expires_at) in [("old", now - KEPT_FOR), ("new", now + KEPT_FOR)] {
            let lead = Lead::new(organization, format!("{key}@example.com"), now);
            let answer = IdempotentAnswer {
                organization,
                key: key.to_string(),
                fingerprint: [0; 32],
                status: 201,
                body: b"{}".to_vec(),
                created_at: expires_at - KEPT_FOR,
                expires_at,
            };
            store.lead_insert(lead, Some(answer)).await.unwrap();
        }
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let sweep = tokio::spawn(sweep_expired(Arc::downgrade(&store), log));
        // Its first round starts at once; wait for it, in real time, at most 5 s.
        let swept = async {
            // Read a second before `expires_at`, so that the lookup itself does not hide it.
            let before = now - KEPT_FOR - chrono::TimeDelta::seconds(1);
            while store
                .idempotent_answer_find(organization, "old", before)
                .await
                .unwrap()
                .is_some()
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), swept)
            .await
            .expect("the expired answer is swept");
        let kept = store
            .idempotent_answer_find(organization, "new", now)
            .await
            .unwrap();
        assert!(kept.is_some(), "an unexpired answer stays");
        sweep.abort();
    }
}
