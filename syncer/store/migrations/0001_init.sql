-- 0001_init: runs, the change audit, stored plans, cursors, the command
-- audit and Slack alerts. Timestamps are BIGINT Unix nanoseconds (UTC);
-- JSON is TEXT. {{identity}} expands to the backend's auto-increment key.

CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,
    job         TEXT NOT NULL,
    dry_run     BOOLEAN NOT NULL,
    account     TEXT NOT NULL DEFAULT '',
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    code        INTEGER NOT NULL,
    fetched     INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    deleted     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    api_calls   INTEGER NOT NULL,
    plan_id     TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL
);
CREATE INDEX runs_job_started ON runs (job, started_at);
CREATE INDEX runs_started ON runs (started_at);

CREATE TABLE changes (
    id           {{identity}},
    run_id       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    action       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    record_key   TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    zendesk_id   BIGINT NOT NULL DEFAULT 0,
    code         INTEGER NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    parent       TEXT NOT NULL DEFAULT '',
    diffs        TEXT,
    before_image TEXT,
    payload      TEXT
);
CREATE INDEX changes_run ON changes (run_id, id);
CREATE INDEX changes_record ON changes (kind, record_key);

CREATE TABLE plans (
    id           TEXT PRIMARY KEY,
    job          TEXT NOT NULL,
    account      TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    fingerprint  TEXT NOT NULL,
    changes      TEXT NOT NULL,
    applied_at   BIGINT,
    applied_run  TEXT,
    discarded    BOOLEAN NOT NULL DEFAULT FALSE,
    discarded_at BIGINT,
    discarded_by TEXT
);

CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE commands (
    id      {{identity}},
    at      BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    command TEXT NOT NULL,
    args    TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX commands_at ON commands (at);

CREATE TABLE alerts (
    id          {{identity}},
    job         TEXT NOT NULL,
    code        INTEGER NOT NULL,
    channel     TEXT NOT NULL DEFAULT '',
    ts          TEXT NOT NULL DEFAULT '',
    count       INTEGER NOT NULL,
    first_at    BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    resolved_at BIGINT,
    run_ids     TEXT NOT NULL
);
-- At most one open alert per job and code.
CREATE UNIQUE INDEX alerts_one_open ON alerts (job, code) WHERE resolved_at IS NULL;
