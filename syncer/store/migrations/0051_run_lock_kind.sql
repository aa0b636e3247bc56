-- 0051_run_lock_kind: whether a run lock is held by an incremental run, so
-- that a full run of the same job waits for the short incremental run of
-- the minute instead of being refused (README, "Near real time").

ALTER TABLE run_locks ADD COLUMN incremental BOOLEAN NOT NULL DEFAULT FALSE;
