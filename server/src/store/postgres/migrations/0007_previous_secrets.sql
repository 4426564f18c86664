-- A rotated signing secret, as the SQLite store's eighth migration has it: `previous_secret`
-- holds the secret a rotation replaced, sealed (or, with no `previous_secret_key_id`, plain,
-- as its current secret was), and it signs deliveries beside the current one until
-- `previous_secret_expires_at`. One previous secret at most: a rotation during the overlap
-- replaces it.
ALTER TABLE webhook_subscriptions
    ADD COLUMN previous_secret text,
    ADD COLUMN previous_secret_key_id text,
    ADD COLUMN previous_secret_expires_at timestamptz;

-- What the server reads at start and a rotation of the secrets key reseals, as for `secret`.
CREATE INDEX webhook_subscriptions_by_previous_secret_key
    ON webhook_subscriptions (previous_secret_key_id) WHERE previous_secret IS NOT NULL;
