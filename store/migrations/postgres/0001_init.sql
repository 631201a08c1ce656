-- Initial schema, PostgreSQL twin of ../0001_init.sql (see store/dialect.go for
-- what differs). Timestamps are UTC text in a fixed-width RFC 3339 form
-- (2006-01-02T15:04:05.000000000Z) so that text order is time order; booleans
-- are integers 0/1 as in SQLite; sequence numbers and serials are BIGINT.

-- Runs are numbered in enqueue order by a sequence: replicas enqueue at once.
CREATE SEQUENCE run_seq;
-- The store's generation (store/generation.go): every writer moves it after
-- its commit, every replica's caches check it.
CREATE SEQUENCE store_generation;

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT,                       -- NULL for accounts that only log in through OIDC
    oidc_issuer    TEXT,
    oidc_subject   TEXT,
    name           TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    picture_url    TEXT NOT NULL DEFAULT '',
    picture        BYTEA,                       -- uploaded picture, served at /users/{id}/picture
    picture_type   TEXT NOT NULL DEFAULT '',
    is_admin       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (oidc_issuer, oidc_subject)
);

CREATE TABLE ssh_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (user_id, fingerprint)
);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,         -- SHA-256 of the token; the token itself is never stored
    expires_at    TEXT,
    last_used_at  TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE templates (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    content      TEXT NOT NULL,
    inputs       TEXT NOT NULL DEFAULT '[]',   -- JSON: the template's inputs as tosca2tf describes them
    metadata     TEXT NOT NULL DEFAULT '{}',   -- JSON: the template's metadata section
    created_by   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE targets (
    name         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('local', 'openstack')),
    description  TEXT NOT NULL DEFAULT '',
    config       TEXT NOT NULL DEFAULT '{}',   -- JSON, non-secret: catalogs, networks
    credentials  BYTEA,                         -- sealed with the service key; never returned
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE deployments (
    id                TEXT PRIMARY KEY,
    description       TEXT NOT NULL DEFAULT '',
    labels            TEXT NOT NULL DEFAULT '{}',  -- JSON object of strings
    status            TEXT NOT NULL,
    status_reason     TEXT NOT NULL DEFAULT '',
    progress_done     INTEGER NOT NULL DEFAULT 0,
    progress_planned  INTEGER NOT NULL DEFAULT 0,
    template_id       TEXT REFERENCES templates(id) ON DELETE SET NULL,
    template          TEXT NOT NULL,               -- the deployment's own copy of its TOSCA
    target            TEXT NOT NULL,
    inputs            TEXT NOT NULL DEFAULT '{}',  -- JSON: the inputs as submitted
    outputs           TEXT NOT NULL DEFAULT '{}',  -- JSON: resolved TOSCA outputs
    terraform         TEXT NOT NULL DEFAULT '',    -- generated main.tf.json
    tfvars            TEXT NOT NULL DEFAULT '',    -- generated terraform.tfvars.json
    power_states      TEXT NOT NULL DEFAULT '{}',  -- JSON: node -> instance -> started|stopped
    infrastructure    INTEGER NOT NULL DEFAULT 0,  -- 1 while cloud resources may exist
    log_seq           BIGINT NOT NULL DEFAULT 0,  -- last log sequence number handed out
    created_by        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    deleted_at        TEXT
);
CREATE INDEX deployments_created ON deployments(created_at);
CREATE INDEX deployments_status ON deployments(status);

CREATE TABLE deployment_owners (
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (deployment_id, user_id)
);
CREATE INDEX deployment_owners_user ON deployment_owners(user_id);

CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    seq            BIGINT NOT NULL,              -- global enqueue order
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('create', 'update', 'redeploy', 'delete', 'action')),
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params         TEXT NOT NULL DEFAULT '{}',  -- JSON: action name, resource, ...
    worker         TEXT NOT NULL DEFAULT '',
    error          TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_by     TEXT,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT,
    heartbeat_at   TEXT
);
CREATE UNIQUE INDEX runs_seq ON runs(seq);
CREATE INDEX runs_deployment ON runs(deployment_id, seq);
CREATE INDEX runs_status ON runs(status, seq);

CREATE TABLE resources (
    id             TEXT PRIMARY KEY,
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    node           TEXT NOT NULL,
    instance       INTEGER NOT NULL DEFAULT 0,
    tosca_type     TEXT NOT NULL,
    kind           TEXT NOT NULL,                -- module kind: compute, block_storage, ...
    address        TEXT NOT NULL,                -- Terraform address of the module instance
    cloud_id       TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL,
    attributes     TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (deployment_id, node, instance)
);

CREATE TABLE state_versions (
    id             TEXT PRIMARY KEY,
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    run_id         TEXT,
    serial         BIGINT NOT NULL,
    lineage        TEXT NOT NULL,
    state          BYTEA NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX state_versions_deployment ON state_versions(deployment_id, serial);

CREATE TABLE log_lines (
    deployment_id  TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    time           TEXT NOT NULL,
    level          TEXT NOT NULL,
    source         TEXT NOT NULL,
    run_id         TEXT NOT NULL DEFAULT '',
    resource       TEXT NOT NULL DEFAULT '',
    message        TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);
CREATE INDEX log_lines_time ON log_lines(time);
