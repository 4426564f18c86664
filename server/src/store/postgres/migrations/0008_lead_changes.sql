-- The order in which each organization's leads last changed, for incremental sync
-- (`GET /v1/leads?order=changed`). Every lead write takes the organization's next change
-- number (`last_change`) last in its transaction, locking the organization's row until it
-- commits: the numbers of one organization follow the order its writes commit in, so a walk
-- by them never passes a change still to commit.
ALTER TABLE organizations ADD COLUMN last_change bigint NOT NULL DEFAULT 0;

CREATE TABLE lead_changes (
    lead_id         uuid   NOT NULL PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    organization_id uuid   NOT NULL REFERENCES organizations (id),
    change          bigint NOT NULL
);

-- The walk's order, one number a change.
CREATE UNIQUE INDEX lead_changes_in_order ON lead_changes (organization_id, change);

-- The leads already stored, in the order of their last update.
INSERT INTO lead_changes (lead_id, organization_id, change)
SELECT id, organization_id,
       row_number() OVER (PARTITION BY organization_id ORDER BY updated_at, id)
FROM leads;

UPDATE organizations
SET last_change = latest.change
FROM (SELECT organization_id, max(change) AS change FROM lead_changes GROUP BY organization_id)
     AS latest
WHERE latest.organization_id = organizations.id;
