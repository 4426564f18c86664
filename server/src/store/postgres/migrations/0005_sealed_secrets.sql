-- Signing secrets sealed at rest, as the SQLite store's seventh migration has them. `secret`
-- now holds a secret sealed by the server's key whose id is `secret_key_id` (the store never
-- sees the key); a row from before, whose `secret_key_id` is NULL, still holds its secret in
-- plain text: the server seals it when it starts.
ALTER TABLE webhook_subscriptions ADD COLUMN secret_key_id text;

-- What the server reads at start (a secret of each key, the plain ones) and a rotation
-- reseals (those of other keys), without reading every subscription.
CREATE INDEX webhook_subscriptions_by_secret_key ON webhook_subscriptions (secret_key_id);
