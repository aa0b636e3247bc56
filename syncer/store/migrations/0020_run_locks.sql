-- 0020_run_locks: the leases that let one run of a job go at a time across
-- replicas (and processes sharing a SQLite file). A row is a held lease:
-- holder is the run ID of the run holding it, by who started that run,
-- since when it runs; the lease holds until expires_at unless the holder
-- renews it, so a crashed holder frees the job once its lease runs out.
-- Timestamps are BIGINT Unix nanoseconds (UTC).

CREATE TABLE run_locks (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    started_by TEXT NOT NULL DEFAULT '',
    since      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
