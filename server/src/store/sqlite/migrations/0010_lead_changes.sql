-- The order in which each organization's leads last changed, for incremental sync
-- (`GET /v1/leads?order=changed`). Every lead write takes the organization's next change
-- number (`last_change`) in its own transaction and gives it to its lead: the writer is one
-- connection, so the numbers follow the order writes commit in.
ALTER TABLE organizations ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;

CREATE TABLE lead_changes (
    lead_id         TEXT    NOT NULL PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    change          INTEGER NOT NULL
) STRICT;

-- The walk's order, one number a change.
CREATE UNIQUE INDEX lead_changes_in_order ON lead_changes (organization_id, change);

-- The leads already stored, in the order of their last update.
INSERT INTO lead_changes (lead_id, organization_id, change)
SELECT id, organization_id,
       ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY updated_at, id)
FROM leads;

UPDATE organizations
SET last_change = (SELECT COALESCE(MAX(change), 0) FROM lead_changes
                   WHERE lead_changes.organization_id = organizations.id);
