//! How the driver's and the pool's errors become [`StoreError`]s, in one place: which failures
//! a client may be told about and which are internal, with what was being done.
//!
//! The unique constraints decide what is taken, so concurrent writers cannot race a check:
//! they are told apart by the names the migrations give them.

use std::error::Error as _;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::store::StoreError;

/// `UNIQUE (organization_id, email_lower)` on `leads`.
const EMAIL_UNIQUE: &str = "leads_email_unique";

/// The primary key of `idempotent_answers`, `(organization_id, idempotency_key)`. The store's
/// own insert resolves clashes with `ON CONFLICT`; this names any other statement's.
const ANSWER_KEY_UNIQUE: &str = "idempotent_answers_pkey";

pub(super) fn internal(message: &str) -> StoreError {
    StoreError::Internal(message.to_owned())
}

/// Turns an error of the driver or the pool into a [`StoreError`] saying what was being done.
pub(super) trait Context<T> {
    fn context(self, doing: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn context(self, doing: &str) -> Result<T, StoreError> {
        self.map_err(|error| classify(&error, doing))
    }
}

impl<T> Context<T> for Result<T, PoolError> {
    fn context(self, doing: &str) -> Result<T, StoreError> {
        self.map_err(|error| match &error {
            PoolError::Backend(error) => classify(error, doing),
            _ => StoreError::Internal(format!("{doing}: {error}")),
        })
    }
}

/// A clash on [`EMAIL_UNIQUE`] is [`StoreError::EmailTaken`], one on [`ANSWER_KEY_UNIQUE`]
/// [`StoreError::IdempotencyKeyTaken`]; a serialization failure or a deadlock is
/// [`StoreError::Contention`], which the store retries; anything else is internal.
fn classify(error: &tokio_postgres::Error, doing: &str) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        match error.as_db_error().and_then(|error| error.constraint()) {
            Some(EMAIL_UNIQUE) => return StoreError::EmailTaken,
            Some(ANSWER_KEY_UNIQUE) => return StoreError::IdempotencyKeyTaken,
            _ => {}
        }
    }
    // The driver's own message is only its kind ("db error"); the server's is its source.
    let detail = match error.source() {
        Some(source) => format!("{doing}: {error}: {source}"),
        None => format!("{doing}: {error}"),
    };
    if error.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        || error.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
    {
        StoreError::Contention(detail)
    } else {
        StoreError::Internal(detail)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::tests::{open, raw};
    use super::*;
    use crate::store::prelude::*;
    use crate::store::suite::{T0, at, lead};

    #[cfg_attr(
        not(leads_postgres),
        ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
    )]
    #[tokio::test]
    async fn only_clashes_on_the_email_and_the_answer_key_are_told_apart() {
        let (database, store, organization) = open().await;
        store
            .lead_insert(lead(organization, "one@example.com", at(T0)), None)
            .await
            .expect("insert");
        let raw = raw(&database).await;
        let email_clash = raw
            .execute(
                "INSERT INTO leads (id, organization_id, email, email_lower, status, notes, \
                 created_at, updated_at) VALUES ($1, $2, 'ONE@example.com', 'one@example.com', \
                 'new', '[]', now(), now())",
                &[&Uuid::new_v4(), &organization.0],
            )
            .await;
        assert!(matches!(
            email_clash.context("test"),
            Err(StoreError::EmailTaken)
        ));

        let answer = "INSERT INTO idempotent_answers VALUES \
            ($1, 'k', decode(repeat('00', 32), 'hex'), 201, '', now(), now())";
        raw.execute(answer, &[&organization.0])
            .await
            .expect("an answer");
        let key_clash = raw.execute(answer, &[&organization.0]).await;
        assert!(matches!(
            key_clash.context("test"),
            Err(StoreError::IdempotencyKeyTaken)
        ));

        let name_clash = raw
            .execute(
                "INSERT INTO organizations (id, name, created_at) VALUES ($1, 'acme', now())",
                &[&Uuid::new_v4()],
            )
            .await;
        let Err(StoreError::Internal(message)) = name_clash.context("test") else {
            panic!("a clash on another constraint is internal");
        };
        // With the server's message, not only the driver's "db error".
        assert!(message.contains("organizations_name_unique"), "{message}");
    }
}
