-- Background jobs of the service itself (log retention today): queued by an
-- admin or a schedule, run by the engine, followed through the API.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('log_purge')),
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    params       TEXT NOT NULL DEFAULT '{}',   -- JSON: what to do (log_purge: before)
    progress     TEXT NOT NULL DEFAULT '{}',   -- JSON: how far it got
    error        TEXT NOT NULL DEFAULT '',
    worker       TEXT NOT NULL DEFAULT '',
    created_by   TEXT,                         -- NULL for scheduled jobs
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    heartbeat_at TEXT
);
CREATE INDEX jobs_created ON jobs(created_at DESC, id DESC);
CREATE INDEX jobs_status ON jobs(status, created_at);
