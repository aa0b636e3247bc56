-- 0031_status_message: the one quiet-runs status message of a Slack
-- channel, shared by every replica, and the counts it shows.
--
-- status_messages: ts is the message ('' until it is posted);
-- posting_until is a replica's claim to post it; edited_at is when it was
-- last edited (edits are spaced); shown_at is the time of the counts it
-- shows. quiet_runs: the quiet runs in a row of each job (count 0: the
-- job's last run was not quiet); updated_at is when a row last changed, so
-- the message needs an edit when a row changed at or after shown_at. Timestamps
-- are BIGINT Unix nanoseconds (UTC).

CREATE TABLE status_messages (
    channel       TEXT PRIMARY KEY,
    ts            TEXT NOT NULL DEFAULT '',
    posting_until BIGINT NOT NULL DEFAULT 0,
    edited_at     BIGINT NOT NULL DEFAULT 0,
    shown_at      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE quiet_runs (
    channel    TEXT NOT NULL,
    job        TEXT NOT NULL,
    count      BIGINT NOT NULL,
    silent     BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    run_id     TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, job)
);
