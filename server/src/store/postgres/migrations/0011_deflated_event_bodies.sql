-- Event bodies deflated (`server/src/store/event_body.rs`): a lead at its largest is about
-- 77 KB, kept for 30 days with every event about it. PostgreSQL compresses a large `text`
-- value by itself (TOAST's pglz), but deflate stores less, and the size as sent is kept
-- beside the bytes either way.
--
-- Columns added, not a rewritten table: each change here is instant however large the outbox
-- is (the CHECK is `NOT VALID`: the rows already stored have their text and no deflated
-- bytes, so it holds of them, and checking them would read the whole table). Those rows are
-- sent from their text as before.
ALTER TABLE webhook_events
    ALTER COLUMN body DROP NOT NULL,
    ADD COLUMN body_deflated bytea,
    -- The body's size as sent, before deflating: the deliveries log's `payload_size_bytes`.
    -- NULL for the rows stored before, whose size is their text's.
    ADD COLUMN body_size integer,
    ADD CONSTRAINT webhook_events_one_body
        CHECK ((body IS NULL) <> (body_deflated IS NULL)) NOT VALID;
-- Deflated bytes do not compress again: kept out of line without pglz trying.
ALTER TABLE webhook_events ALTER COLUMN body_deflated SET STORAGE EXTERNAL;
