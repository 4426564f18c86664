-- Event bodies deflated (`server/src/store/event_body.rs`): a lead at its largest is about
-- 77 KB, kept for 30 days with every event about it.
--
-- Columns added, not a rebuilt table: adding is instant however large the outbox is, and the
-- rows already stored keep their text and are sent from it. A deflated row's `body` is the
-- empty text (no event renders to it: every body is a JSON object), since `body` stays
-- NOT NULL; the store reads `body` only where `body_deflated` is NULL.
ALTER TABLE webhook_events ADD COLUMN body_deflated BLOB;
-- The body's size as sent, before deflating: the deliveries log's `payload_size_bytes`.
-- NULL for the rows stored before, whose size is their text's.
ALTER TABLE webhook_events ADD COLUMN body_size INTEGER;
