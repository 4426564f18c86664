-- The pending deliveries by due time, across every subscription, served only the next due
-- time's read of every pending delivery. That read now takes each active subscription's
-- earliest from `webhook_deliveries_due_by_subscription` (migration 0006), so no statement
-- reads this index, and every delivery stored, leased or finished wrote it.
DROP INDEX IF EXISTS webhook_deliveries_due;
