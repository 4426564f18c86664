-- The 30-day sweep reads old rows by age. Without these it scanned every event and every
-- delivery while holding the only writer.
--
-- Finished deliveries by age: the sweep deletes those created before a time, and never a
-- pending one, so the pending ones (the worker's) need not be in this index.
CREATE INDEX webhook_deliveries_finished_by_created
    ON webhook_deliveries (created_at) WHERE status != 'pending';
-- Events by age: the sweep deletes old events that no delivery is left of.
CREATE INDEX webhook_events_by_created ON webhook_events (created_at);
