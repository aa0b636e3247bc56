-- 0011_pushes: the case push log. One row per attempt and per outcome of a
-- push of a Zendesk ticket event ("created", "closed") to a Salesforce case;
-- the latest row of a (ticket_id, event) is the push's state. Timestamps are
-- BIGINT Unix nanoseconds (UTC).

CREATE TABLE case_pushes (
    id        {{identity}},
    ticket_id BIGINT NOT NULL,
    event     TEXT NOT NULL,
    case_id   TEXT NOT NULL DEFAULT '',
    code      INTEGER NOT NULL,
    attempts  INTEGER NOT NULL,
    status    TEXT NOT NULL,
    message   TEXT NOT NULL DEFAULT '',
    at        BIGINT NOT NULL
);
CREATE INDEX case_pushes_ticket ON case_pushes (ticket_id, event, id);
CREATE INDEX case_pushes_status ON case_pushes (status, id);
