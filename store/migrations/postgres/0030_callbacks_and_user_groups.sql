-- PostgreSQL twin of ../0030_callbacks_and_user_groups.sql (see store/dialect.go).
-- INDIGO PaaS Orchestrator compatibility: a deployment may carry a callback URL
-- (POSTed the deployment when it reaches a final status) and the user group it
-- was submitted for. Numbered 0030 (0020 and 0040 are other branches'); it runs
-- after 0010, which moved the large texts out of deployments, and stands alone.

ALTER TABLE deployments ADD COLUMN callback TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN user_group TEXT NOT NULL DEFAULT '';
CREATE INDEX deployments_user_group ON deployments(user_group) WHERE user_group != '';

-- The outbox of callbacks: one row each time a deployment with a callback
-- reaches a final status, written in the same transaction as the status move, so
-- that no final status is ever missed (a crash, a restart, another replica). The
-- server's dispatcher delivers due rows, one deployment's in order; a lease keeps
-- two replicas from sending the same row at once; a newer status supersedes an
-- older one not delivered yet.
-- Callbacks are numbered in queue order by a sequence: replicas queue at once.
CREATE SEQUENCE callback_seq;
CREATE TABLE callbacks (
    id               TEXT PRIMARY KEY,
    seq              BIGINT NOT NULL,              -- queue order
    deployment_id    TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,                -- the final status reached
    status_reason    TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'superseded')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    lease_until      TEXT,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    finished_at      TEXT
);
CREATE INDEX callbacks_due ON callbacks(state, next_attempt_at);
CREATE UNIQUE INDEX callbacks_seq ON callbacks(seq);
CREATE INDEX callbacks_deployment ON callbacks(deployment_id, seq);
