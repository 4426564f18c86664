-- Every attempt of a delivery, as the SQLite store's tenth migration has it: the newest
-- `ATTEMPTS_KEPT` (50) of each are kept, and they go with their delivery (the 30-day sweep, a
-- subscription's deletion) by the cascade.
CREATE TABLE webhook_delivery_attempts (
    id               uuid        NOT NULL PRIMARY KEY,
    delivery_id      uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    -- Counting from 1 over every send of the delivery (resends and recoveries included).
    number           integer     NOT NULL CHECK (number >= 1),
    -- When the attempt was sent (named as every listed table's time, for the keyset pages).
    created_at       timestamptz NOT NULL,
    status_code      integer,
    response_time_ms bigint      NOT NULL CHECK (response_time_ms >= 0),
    error_message    text,
    succeeded        boolean     NOT NULL
);

-- The history's order, and what the cascade and the bound look a delivery's attempts up by.
CREATE INDEX webhook_delivery_attempts_by_delivery
    ON webhook_delivery_attempts (delivery_id, created_at DESC, id DESC);

-- A resend or a recovery sends a delivery anew: its attempts before that do not count on the
-- retry schedule, which starts again (`attempt_count - attempts_before_send` are this send's).
ALTER TABLE webhook_deliveries
    ADD COLUMN attempts_before_send integer NOT NULL DEFAULT 0 CHECK (attempts_before_send >= 0);
