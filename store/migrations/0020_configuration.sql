-- Software configuration (issue 13): the hostpool target kind, host allocations
-- and each deployment's SSH key pair with the host keys it has seen.

-- SQLite cannot change a CHECK constraint: rebuild targets with the new kind
-- (no table references targets, so the rebuild is safe with foreign keys on).
CREATE TABLE targets_new (
    name         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('local', 'openstack', 'hostpool')),
    description  TEXT NOT NULL DEFAULT '',
    config       TEXT NOT NULL DEFAULT '{}',
    credentials  BLOB,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
INSERT INTO targets_new SELECT name, kind, description, config, credentials, created_at, updated_at FROM targets;
DROP TABLE targets;
ALTER TABLE targets_new RENAME TO targets;

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
    private_key    BLOB NOT NULL,
    public_key     TEXT NOT NULL,
    known_hosts    TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- What the configure phase last did on each software node instance: its state
-- (CONFIGURED, ERROR...), a digest of the operations and inputs it ran (an
-- update re-runs only nodes whose digest changed) and what the resources API
-- shows of it. The resources table is rebuilt from the state after every run;
-- these rows are laid over it.
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
