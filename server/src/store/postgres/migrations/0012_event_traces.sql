-- The W3C `traceparent` of the request that caused an event, as it came, if it sent one: each
-- delivery of the event sends the same trace on, with a span of its own.
ALTER TABLE webhook_events ADD COLUMN trace_parent text;
