-- Every attempt of a delivery, not only its latest (whose fields stay on the delivery for the
-- log): the newest `ATTEMPTS_KEPT` (50) of each are kept, and they go with their delivery
-- (the 30-day sweep, a subscription's deletion) by the cascade.
CREATE TABLE webhook_delivery_attempts (
    id               TEXT    NOT NULL PRIMARY KEY,
    delivery_id      TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    -- Counting from 1 over every send of the delivery (resends and recoveries included).
    number           INTEGER NOT NULL,
    -- When the attempt was sent (named as every listed table's time, for the keyset pages).
    created_at       INTEGER NOT NULL,
    status_code      INTEGER,
    response_time_ms INTEGER NOT NULL,
    error_message    TEXT,
    succeeded        INTEGER NOT NULL CHECK (succeeded IN (0, 1))
) STRICT;

-- The history's order, and what the cascade and the bound look a delivery's attempts up by.
CREATE INDEX webhook_delivery_attempts_by_delivery
    ON webhook_delivery_attempts (delivery_id, created_at DESC, id DESC);

-- A resend or a recovery sends a delivery anew: its attempts before that do not count on the
-- retry schedule, which starts again (`attempt_count - attempts_before_send` are this send's).
ALTER TABLE webhook_deliveries ADD COLUMN attempts_before_send INTEGER NOT NULL DEFAULT 0;
