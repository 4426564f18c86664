-- Webhooks: subscriptions to lead events, the events (the outbox), and one delivery of an
-- event to each subscription that was active when the event was written.

CREATE TABLE webhook_subscriptions (
    id                   TEXT    NOT NULL PRIMARY KEY,
    organization_id      TEXT    NOT NULL REFERENCES organizations (id),
    event_type           TEXT    NOT NULL CHECK (event_type IN
                             ('lead.created', 'lead.updated', 'lead.status_changed')),
    target_url           TEXT    NOT NULL,
    -- Kept as it is: every delivery is signed with it. Never logged, never shown again.
    secret               TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    disabled_at          INTEGER,
    -- Deliveries that failed in a row (each after all its attempts); reset by a success.
    consecutive_failures INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The list order, unfiltered and by event; the second also finds the subscriptions a lead
-- write fans out to.
CREATE INDEX webhook_subscriptions_by_created
    ON webhook_subscriptions (organization_id, created_at DESC, id DESC);
CREATE INDEX webhook_subscriptions_by_event
    ON webhook_subscriptions (organization_id, event_type, created_at DESC, id DESC);

CREATE TABLE webhook_events (
    id              TEXT    NOT NULL PRIMARY KEY,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    event_type      TEXT    NOT NULL,
    -- The exact bytes every attempt sends and signs.
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id               TEXT    NOT NULL PRIMARY KEY,
    organization_id  TEXT    NOT NULL REFERENCES organizations (id),
    subscription_id  TEXT    NOT NULL REFERENCES webhook_subscriptions (id),
    event_id         TEXT    NOT NULL REFERENCES webhook_events (id),
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'success', 'failed')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    -- The latest attempt's.
    status_code      INTEGER,
    response_time_ms INTEGER,
    error_message    TEXT,
    next_attempt_at  INTEGER,
    -- A worker claimed it until then; a worker that died loses it when the lease runs out.
    leased_until     INTEGER,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_by_created
    ON webhook_deliveries (organization_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_by_subscription
    ON webhook_deliveries (subscription_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_due
    ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_event
    ON webhook_deliveries (event_id);
