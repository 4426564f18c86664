-- Erasure of a lead (`DELETE /v1/leads/{id}`, 5.1.0), as the SQLite store's 0011 has it:
-- every copy of a lead is found from its id, and `lead.deleted` is an event type.
--
-- (Numbered 0009 though it is the eighth step: another branch adds 0008. The runner numbers
-- versions by their place in `MIGRATIONS`; the merge puts 0008 first.)

ALTER TABLE webhook_subscriptions DROP CONSTRAINT webhook_subscriptions_event_type_check,
    ADD CONSTRAINT webhook_subscriptions_event_type_check CHECK (event_type IN
        ('lead.created', 'lead.updated', 'lead.status_changed', 'lead.deleted'));
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_event_type_check,
    ADD CONSTRAINT webhook_events_event_type_check CHECK (event_type IN
        ('lead.created', 'lead.updated', 'lead.status_changed', 'lead.deleted'));

-- The lead an event is about; events stored before carry it as `data.id` in their body
-- (the server writes every body as JSON).
ALTER TABLE webhook_events ADD COLUMN lead_id uuid;
UPDATE webhook_events SET lead_id = (body::jsonb -> 'data' ->> 'id')::uuid;
CREATE INDEX webhook_events_by_lead ON webhook_events (lead_id);

-- The lead an answer kept for an `Idempotency-Key` holds (a create's answer is the lead).
ALTER TABLE idempotent_answers ADD COLUMN lead_id uuid;
UPDATE idempotent_answers
    SET lead_id = (convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'id')::uuid;
CREATE INDEX idempotent_answers_by_lead ON idempotent_answers (lead_id);
