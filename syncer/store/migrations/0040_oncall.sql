-- 0040_oncall: what the on-call tools read and write (README, "On-call
-- tools"): the orgs in their grace period before deletion, who started
-- each run and which run it undoes, and which run a stored plan undoes.
-- Timestamps are BIGINT Unix nanoseconds (UTC).

-- One row per greatly expired org tagged zdsync_pending_deletion: since
-- when, so that the first full run after DELETE_GRACE deletes it.
CREATE TABLE pending_deletions (
    scope      TEXT NOT NULL,
    account_id TEXT NOT NULL,
    org_id     BIGINT NOT NULL DEFAULT 0,
    name       TEXT NOT NULL DEFAULT '',
    since      BIGINT NOT NULL,
    PRIMARY KEY (scope, account_id)
);

ALTER TABLE runs ADD COLUMN started_by TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN undo_of TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_undo_of ON runs (undo_of);

ALTER TABLE plans ADD COLUMN undo_of TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN undo_record TEXT NOT NULL DEFAULT '';

-- History by Zendesk ID (an org or a user), and of an account's users.
CREATE INDEX changes_zendesk_id ON changes (zendesk_id);
CREATE INDEX changes_parent ON changes (parent);
