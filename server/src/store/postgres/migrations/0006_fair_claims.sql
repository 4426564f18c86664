-- Fair claims (`store::fairness`). Each subscription's pending deliveries by due time: a
-- claim reads the earliest due of each active subscription, and the backlog trim walks them
-- from the latest due. And the deliveries leased, which a claim counts by subscription and
-- organization: few (those in flight, and those a dead process left), so their count is cheap.
CREATE INDEX webhook_deliveries_due_by_subscription
    ON webhook_deliveries (subscription_id, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_leased
    ON webhook_deliveries (leased_until, subscription_id, organization_id)
    WHERE status = 'pending' AND leased_until IS NOT NULL;
