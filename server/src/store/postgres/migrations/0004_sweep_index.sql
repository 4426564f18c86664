-- The 30-day sweep deletes finished deliveries created before a time, of every organization:
-- `webhook_deliveries_by_created` leads with the organization, so without this index each
-- batch scanned the whole table. (`webhook_events_by_created` serves the events already.)
CREATE INDEX webhook_deliveries_finished_by_created
    ON webhook_deliveries (created_at) WHERE status <> 'pending';
