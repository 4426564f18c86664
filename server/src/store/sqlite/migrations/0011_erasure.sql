-- Erasure of a lead (`DELETE /v1/leads/{id}`, 5.1.0): every copy of a lead the database keeps
-- is found from the lead's id, and `lead.deleted` may be subscribed to.
--
-- (Numbered 0011 though it is the tenth step: another branch adds 0010. rusqlite_migration
-- counts steps by their place in `MIGRATION_STEPS`, not by file name; the merge puts 0010
-- first.)

-- The lead an event is about: its copies in the outbox. Events stored before are matched by
-- the lead's id in their body, which every event carries as `data.id`.
ALTER TABLE webhook_events ADD COLUMN lead_id TEXT;
UPDATE webhook_events SET lead_id = json_extract(body, '$.data.id') WHERE json_valid(body);
CREATE INDEX webhook_events_by_lead ON webhook_events (lead_id);

-- The lead an answer kept for an `Idempotency-Key` holds (only creates keep answers, and a
-- create's answer is the lead, `data.id` included).
ALTER TABLE idempotent_answers ADD COLUMN lead_id TEXT;
UPDATE idempotent_answers SET lead_id = json_extract(CAST(body AS TEXT), '$.data.id')
    WHERE json_valid(CAST(body AS TEXT));
CREATE INDEX idempotent_answers_by_lead ON idempotent_answers (lead_id);

-- `lead.deleted` in the subscriptions' CHECK. SQLite cannot change a CHECK in place: the
-- table is rebuilt (the documented twelve steps; the store runs migrations with foreign keys
-- off and checks them after this one). `SELECT *` copies every column by position, so a
-- column another migration adds before this one fails the copy loudly instead of being lost.
CREATE TABLE webhook_subscriptions_rebuilt (
    id                         TEXT    NOT NULL PRIMARY KEY,
    organization_id            TEXT    NOT NULL REFERENCES organizations (id),
    event_type                 TEXT    NOT NULL CHECK (event_type IN
                                   ('lead.created', 'lead.updated', 'lead.status_changed',
                                    'lead.deleted')),
    target_url                 TEXT    NOT NULL,
    secret                     TEXT    NOT NULL,
    created_at                 INTEGER NOT NULL,
    disabled_at                INTEGER,
    consecutive_failures       INTEGER NOT NULL DEFAULT 0,
    secret_key_id              TEXT,
    previous_secret            TEXT,
    previous_secret_key_id     TEXT,
    previous_secret_expires_at INTEGER
) STRICT;
INSERT INTO webhook_subscriptions_rebuilt SELECT * FROM webhook_subscriptions;
DROP TABLE webhook_subscriptions;
ALTER TABLE webhook_subscriptions_rebuilt RENAME TO webhook_subscriptions;
CREATE INDEX webhook_subscriptions_by_created
    ON webhook_subscriptions (organization_id, created_at DESC, id DESC);
CREATE INDEX webhook_subscriptions_by_event
    ON webhook_subscriptions (organization_id, event_type, created_at DESC, id DESC);
CREATE INDEX webhook_subscriptions_by_secret_key ON webhook_subscriptions (secret_key_id);
CREATE INDEX webhook_subscriptions_by_previous_secret_key
    ON webhook_subscriptions (previous_secret_key_id) WHERE previous_secret IS NOT NULL;
