-- Several service processes (replicas) on one database. A running run holds a
-- lease: a token that only grows (each worker that takes the run gets a new one)
-- and an expiry its worker pushes on with every heartbeat. Every write a worker
-- makes for a run is conditional on its token, so a worker that lost the run
-- changes nothing; only an expired lease is taken over. At most one run of a
-- deployment runs at a time, enforced by the database rather than by one
-- process's locks. Settings are what every replica must agree on (the
-- fingerprint of the service key).

ALTER TABLE runs ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_until TEXT;
UPDATE runs SET lease_token = attempts, lease_until = heartbeat_at WHERE status = 'running';
CREATE UNIQUE INDEX runs_one_running ON runs(deployment_id) WHERE status = 'running';
CREATE INDEX runs_lease ON runs(lease_until) WHERE status = 'running';

CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
