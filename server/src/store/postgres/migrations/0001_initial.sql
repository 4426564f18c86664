-- The schema as the SQLite store's four migrations left it, in PostgreSQL's types. Applied
-- once, in a transaction, by `PostgresStore::connect`; never edit a migration that has
-- shipped: add the next numbered file instead.
--
-- Kept to SQL that CockroachDB also speaks (no extensions, no PL/pgSQL, no `json` type, whose
-- exact text CockroachDB would not keep).

CREATE TABLE organizations (
    id         uuid        NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT organizations_name_unique UNIQUE (name)
);

CREATE TABLE api_keys (
    id              uuid        NOT NULL PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    -- SHA-256 of the key: the key itself is never stored.
    key_hash        bytea       NOT NULL CHECK (length(key_hash) = 32),
    -- The key's first characters, shown to tell keys apart; NULL for none.
    prefix          text,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz,
    -- A revoked key is never found.
    revoked_at      timestamptz,
    CONSTRAINT api_keys_key_hash_unique UNIQUE (key_hash)
);
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
CREATE INDEX api_keys_by_organization ON api_keys (organization_id, created_at, id);

-- JSON values are `text`, checked to be JSON of the right shape: a client's object comes back
-- as the text it sent (`jsonb` would reorder keys and respell numbers). No query looks inside
-- them.
CREATE TABLE leads (
    id                    uuid        NOT NULL PRIMARY KEY,
    organization_id       uuid        NOT NULL REFERENCES organizations (id),
    email                 text        NOT NULL,
    -- Rust's `to_lowercase()` of `email`, as in the SQLite store: `lower()` depends on the
    -- database's locale, and folds ASCII only under the C locale.
    email_lower           text        NOT NULL,
    full_name             text,
    phone                 text,
    company               text,
    timezone              text,
    status                text        NOT NULL CHECK (status IN
                              ('new', 'contacted', 'qualified', 'disqualified', 'closed', 'lost')),
    assigned_to_id        text,
    source_referrer       text,
    source_utm_campaign   text,
    source_utm_content    text,
    source_utm_medium     text,
    source_utm_source     text,
    source_utm_term       text,
    metadata              text        CHECK (jsonb_typeof(metadata::jsonb) = 'object'),
    notes                 text        NOT NULL CHECK (jsonb_typeof(notes::jsonb) = 'array'),
    disqualification_data text        CHECK (jsonb_typeof(disqualification_data::jsonb) = 'object'),
    payment_count         bigint      NOT NULL DEFAULT 0,
    payment_status        text,
    last_payment_at       timestamptz,
    total_paid_cents      bigint      NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    version               bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    CONSTRAINT leads_email_unique UNIQUE (organization_id, email_lower)
);

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
CREATE INDEX leads_by_status_and_utm_source
    ON leads (organization_id, status, source_utm_source, created_at DESC, id DESC);

-- The answers kept for `Idempotency-Key`s, so that a retry gets the first answer again. A key
-- is the client's, so it is unique only within its organization.
CREATE TABLE idempotent_answers (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    -- 1 to 255 printable ASCII characters, as sent.
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255
                                                AND idempotency_key ~ '^[ -~]+$'),
    -- SHA-256 of the request answered: a retry must match it.
    fingerprint     bytea       NOT NULL CHECK (length(fingerprint) = 32),
    status          integer     NOT NULL CHECK (status BETWEEN 100 AND 599),
    body            bytea       NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    CONSTRAINT idempotent_answers_pkey PRIMARY KEY (organization_id, idempotency_key)
);

-- The sweep deletes by expiry, across organizations, without scanning every answer.
CREATE INDEX idempotent_answers_by_expiry ON idempotent_answers (expires_at);
