-- Key lifecycle: a key's prefix (shown to tell keys apart; NULL for keys made before it was
-- kept), when it was last used, and when it was revoked (a revoked key is never found).
ALTER TABLE api_keys ADD COLUMN prefix TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
