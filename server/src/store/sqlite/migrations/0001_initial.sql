-- The initial schema. Applied once, in a transaction, by `SqliteStore::open`; never edit a
-- migration that has shipped: add the next numbered file instead.
--
-- Ids are lowercase hyphenated UUIDs, so that comparing them as text orders them as UUIDs.
-- Timestamps are microseconds since the Unix epoch (UTC), so that keyset comparisons are exact.

CREATE TABLE organizations (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id              TEXT    NOT NULL PRIMARY KEY,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    -- SHA-256 of the key: the key itself is never stored.
    key_hash        BLOB    NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE leads (
    id                    TEXT    NOT NULL PRIMARY KEY,
    organization_id       TEXT    NOT NULL REFERENCES organizations (id),
    email                 TEXT    NOT NULL,
    -- Rust's `to_lowercase()` of `email`: SQLite's `lower()` folds ASCII only.
    email_lower           TEXT    NOT NULL,
    full_name             TEXT,
    phone                 TEXT,
    company               TEXT,
    timezone              TEXT,
    status                TEXT    NOT NULL CHECK (status IN
                              ('new', 'contacted', 'qualified', 'disqualified', 'closed', 'lost')),
    assigned_to_id        TEXT,
    source_referrer       TEXT,
    source_utm_campaign   TEXT,
    source_utm_content    TEXT,
    source_utm_medium     TEXT,
    source_utm_source     TEXT,
    source_utm_term       TEXT,
    metadata              TEXT    CHECK (metadata IS NULL OR json_type(metadata) = 'object'),
    notes                 TEXT    NOT NULL CHECK (json_type(notes) = 'array'),
    disqualification_data TEXT    CHECK (disqualification_data IS NULL
                                         OR json_type(disqualification_data) = 'object'),
    payment_count         INTEGER NOT NULL DEFAULT 0,
    payment_status        TEXT,
    last_payment_at       INTEGER,
    total_paid_cents      INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (organization_id, email_lower)
) STRICT;

-- The list order, unfiltered and under each filter, so that a page is an index range scan
-- with no sort.
CREATE INDEX leads_by_created
    ON leads (organization_id, created_at DESC, id DESC);
CREATE INDEX leads_by_status
    ON leads (organization_id, status, created_at DESC, id DESC);
CREATE INDEX leads_by_utm_source
    ON leads (organization_id, source_utm_source, created_at DESC, id DESC);
CREATE INDEX leads_by_assignee
    ON leads (organization_id, assigned_to_id, created_at DESC, id DESC);
