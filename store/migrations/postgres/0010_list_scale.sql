-- Lists and counts scan deployments: the large texts (the TOSCA copy, generated
-- Terraform and tfvars) move out of those rows into a table read one row at a
-- time; indexes serve the filters and sorts the API offers; owner rows carry the
-- deployment's creation time so "my deployments, newest first" walks an index.

CREATE TABLE deployment_texts (
    deployment_id  TEXT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
    template       TEXT NOT NULL,
    terraform      TEXT NOT NULL DEFAULT '',
    tfvars         TEXT NOT NULL DEFAULT ''
);
INSERT INTO deployment_texts (deployment_id, template, terraform, tfvars)
    SELECT id, template, terraform, tfvars FROM deployments;
ALTER TABLE deployments DROP COLUMN template;
ALTER TABLE deployments DROP COLUMN terraform;
ALTER TABLE deployments DROP COLUMN tfvars;

DROP INDEX deployments_created;
DROP INDEX deployments_status;
CREATE INDEX deployments_live_created ON deployments(created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX deployments_created ON deployments(created_at DESC, id DESC);
CREATE INDEX deployments_live_updated ON deployments(updated_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX deployments_status ON deployments(status, created_at DESC, id DESC);
CREATE INDEX deployments_template ON deployments(template_id, created_at DESC, id DESC);
CREATE INDEX deployments_target ON deployments(target, created_at DESC, id DESC);

ALTER TABLE deployment_owners ADD COLUMN deployment_created_at TEXT NOT NULL DEFAULT '';
UPDATE deployment_owners SET deployment_created_at =
    (SELECT d.created_at FROM deployments d WHERE d.id = deployment_owners.deployment_id);
DROP INDEX deployment_owners_user;
CREATE INDEX deployment_owners_user ON deployment_owners(user_id, deployment_created_at DESC, deployment_id DESC);

-- Retention deletes each deployment's oldest lines by sequence range; this index
-- finds where the cut-off falls in a deployment's log (and serves since/until),
-- replacing the service-wide time index.
DROP INDEX log_lines_time;
CREATE INDEX log_lines_deployment_time ON log_lines(deployment_id, time);
