//! How rusqlite's errors become [`StoreError`]s: which failures a client may be told about
//! ([`StoreError::EmailTaken`]) and which are internal, with what was being done.

use rusqlite::ErrorCode;

use crate::store::StoreError;

pub(super) fn internal(message: &str) -> StoreError {
    StoreError::Internal(message.to_owned())
}

/// Turns a rusqlite error into [`StoreError::Internal`] saying what was being done.
pub(super) trait Context<T> {
    fn context(self, doing: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, doing: &str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Internal(format!("{doing}: {error}")))
    }
}

/// Like [`Context::context`], but a clash on `UNIQUE (organization_id, email_lower)` is
/// [`StoreError::EmailTaken`]: the constraint decides, so concurrent writers cannot race it.
pub(super) fn write_error(doing: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| match &error {
        rusqlite::Error::SqliteFailure(failure, Some(message))
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && message.contains("email_lower") =>
        {
            StoreError::EmailTaken
        }
        _ => StoreError::Internal(format!("{doing}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::tests::{open, raw};
    use super::super::values::id_text;
    use super::*;
    use crate::store::prelude::*;
    use crate::store::suite::{T0, at, lead};

    #[tokio::test]
    async fn only_a_clash_on_the_email_is_email_taken() {
        let (dir, store, organization) = open().await;
        store
            .lead_insert(lead(organization, "one@example.com", at(T0)), None)
            .await
            .expect("insert");
        let raw = raw(&dir);
        let email_clash = raw.execute(
            "INSERT INTO leads (id, organization_id, email, email_lower, status, notes, \
             created_at, updated_at) VALUES (?, ?, 'ONE@example.com', 'one@example.com', \
             'new', '[]', 0, 0)",
            (id_text(Uuid::new_v4()), id_text(organization.0)),
        );
        let error = email_clash.expect_err("the email is taken");
        assert!(matches!(write_error("test")(error), StoreError::EmailTaken));

        let name_clash = raw.execute(
            "INSERT INTO organizations (id, name, created_at) VALUES (?, 'acme', 0)",
            [id_text(Uuid::new_v4())],
        );
        let error = name_clash.expect_err("the name is taken");
        assert!(matches!(
            write_error("test")(error),
            StoreError::Internal(_)
        ));
    }
}
