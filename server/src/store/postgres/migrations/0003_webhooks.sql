-- Webhooks, as the SQLite store's fifth migration has them, in PostgreSQL's types:
-- subscriptions to lead events, the events a lead write stores (the outbox), and one delivery
-- of an event to each subscription that was active when the event was written.

CREATE TABLE webhook_subscriptions (
    id                   uuid        NOT NULL PRIMARY KEY,
    organization_id      uuid        NOT NULL REFERENCES organizations (id),
    event_type           text        NOT NULL CHECK (event_type IN
                             ('lead.created', 'lead.updated', 'lead.status_changed')),
    target_url           text        NOT NULL,
    -- Kept as it is: every delivery is signed with it. Never logged, never shown again.
    secret               text        NOT NULL,
    created_at           timestamptz NOT NULL,
    disabled_at          timestamptz,
    -- Deliveries that failed in a row (each after all its attempts); reset by a success.
    consecutive_failures integer     NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0)
);

-- The list order, unfiltered and by event, so that a page is an index range scan with no
-- sort; the second also finds the subscriptions a lead write fans out to.
CREATE INDEX webhook_subscriptions_by_created
    ON webhook_subscriptions (organization_id, created_at DESC, id DESC);
CREATE INDEX webhook_subscriptions_by_event
    ON webhook_subscriptions (organization_id, event_type, created_at DESC, id DESC);

CREATE TABLE webhook_events (
    id              uuid        NOT NULL PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    event_type      text        NOT NULL CHECK (event_type IN
                        ('lead.created', 'lead.updated', 'lead.status_changed')),
    -- The exact text every attempt sends and signs (`text`, not `jsonb`, which would
    -- reorder its keys).
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL
);

-- The sweep finds old events left without deliveries without scanning every event.
CREATE INDEX webhook_events_by_created ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id               uuid        NOT NULL PRIMARY KEY,
    organization_id  uuid        NOT NULL REFERENCES organizations (id),
    subscription_id  uuid        NOT NULL REFERENCES webhook_subscriptions (id),
    event_id         uuid        NOT NULL REFERENCES webhook_events (id),
    status           text        NOT NULL CHECK (status IN ('pending', 'success', 'failed')),
    attempt_count    integer     NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    -- The latest attempt's.
    status_code      integer,
    response_time_ms bigint,
    error_message    text,
    next_attempt_at  timestamptz,
    -- A worker claimed it until then; a worker that died loses it when the lease runs out.
    leased_until     timestamptz,
    created_at       timestamptz NOT NULL,
    -- A pending delivery is due some time; a finished one never again.
    CONSTRAINT webhook_deliveries_due_while_pending
        CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);

-- The deliveries log's order, of an organization and of one subscription; the second also
-- serves deleting a subscription's deliveries, and the check of its foreign key.
CREATE INDEX webhook_deliveries_by_created
    ON webhook_deliveries (organization_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_by_subscription
    ON webhook_deliveries (subscription_id, created_at DESC, id DESC);
-- What the worker claims: pending deliveries, soonest due first.
CREATE INDEX webhook_deliveries_due
    ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- The sweep's test for events left without deliveries, and the check of the foreign key.
CREATE INDEX webhook_deliveries_by_event
    ON webhook_deliveries (event_id);
