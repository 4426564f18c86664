-- Rate limits shared by every replica: one GCRA bucket per API key and per organization.
-- `tat` is the bucket's theoretical arrival time, in Unix microseconds: when it is full again
-- if nothing more is taken. A bucket full by now counts as absent, so rows are never needed
-- for correctness once their `tat` has passed.
CREATE TABLE rate_limit_buckets (
    bucket text   NOT NULL PRIMARY KEY,
    tat    bigint NOT NULL
);
