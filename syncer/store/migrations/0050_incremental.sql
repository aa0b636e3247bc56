-- 0050_incremental: incremental runs (README, "Near real time"). A run's
-- row says whether it was incremental, so that the guards and the
-- freshness alarm compare full runs with full runs, and the hourly digest
-- finds the incremental runs that changed something. A job's watermark is
-- how far its incremental runs have carried Salesforce's changes over: at
-- (Unix nanoseconds, UTC) and, as JSON, the versions read within the
-- overlap, the accounts to retry and this hour's tally of runs and API
-- calls.

ALTER TABLE runs ADD COLUMN incremental BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX runs_incremental_finished ON runs (incremental, finished_at);

CREATE TABLE watermarks (
    job        TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
