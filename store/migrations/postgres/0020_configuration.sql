-- Software configuration (issue 13), PostgreSQL twin of ../0020_configuration.sql:
-- the hostpool target kind, host allocations and each deployment's SSH key pair
-- with the host keys it has seen.

-- PostgreSQL changes the CHECK constraint in place (SQLite rebuilds the table).
ALTER TABLE targets DROP CONSTRAINT IF EXISTS targets_kind_check;
ALTER TABLE targets ADD CONSTRAINT targets_kind_check CHECK (kind IN ('local', 'openstack', 'hostpool'));

-- A pool host belongs to at most one deployment instance at a time: the unique
-- (target, host) is what makes allocation exclusive across deployments.
CREATE TABLE host_allocations (
    target         TEXT NOT NULL,
    host           TEXT NOT NULL,
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    node           TEXT NOT NULL,
    instance       INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (target, host),
    UNIQUE (deployment_id, node, instance)
);
CREATE INDEX host_allocations_deployment ON host_allocations (deployment_id);

-- The key pair the service generated for a deployment (private half sealed with
-- the service key, never returned) and the host keys recorded on first contact.
CREATE TABLE deployment_ssh (
    deployment_id  TEXT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
    private_key    BYTEA NOT NULL,
    public_key     TEXT NOT NULL,
    known_hosts    TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- What the configure phase last did on each software node instance; laid over
-- the resources rebuilt from the state after every run.
CREATE TABLE configured_nodes (
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    node           TEXT NOT NULL,
    instance       INTEGER NOT NULL,
    state          TEXT NOT NULL,
    digest         TEXT NOT NULL DEFAULT '',
    attributes     TEXT NOT NULL DEFAULT '{}',
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (deployment_id, node, instance)
);
