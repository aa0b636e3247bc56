-- 0030_envelopes: the Slack Socket Mode envelopes the replicas received,
-- so that an envelope Slack delivers again (to this replica or another) is
-- acknowledged but not run twice. A row lives until expires_at (Unix
-- nanoseconds, UTC); expired rows are deleted.

CREATE TABLE envelopes (
    id          TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX envelopes_expires ON envelopes (expires_at);
