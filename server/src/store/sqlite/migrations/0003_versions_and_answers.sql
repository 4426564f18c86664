-- Safe retries and safe concurrent edits.
--
-- A lead's version: 1 when created, one more with every update that changes it, so that an
-- update can require the version its client last read (`If-Match`). Existing leads start at 1.
ALTER TABLE leads ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);

-- The answers kept for `Idempotency-Key`s, so that a retry gets the first answer again. A key
-- is the client's, so it is unique only within its organization. Times are microseconds since
-- the Unix epoch (UTC), as in every table.
CREATE TABLE idempotent_answers (
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    -- 1 to 255 printable ASCII characters, as sent.
    idempotency_key TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255
                                            AND idempotency_key NOT GLOB '*[^ -~]*'),
    -- SHA-256 of the request answered: a retry must match it.
    fingerprint     BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    status          INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599),
    body            BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, idempotency_key)
) STRICT;

-- The sweep deletes by expiry, across organizations, without scanning every answer.
CREATE INDEX idempotent_answers_by_expiry ON idempotent_answers (expires_at);
