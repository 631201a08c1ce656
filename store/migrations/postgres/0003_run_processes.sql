-- The Terraform process a run started, so that a service that crashed or was
-- restarted finds it again: it waits for a process still running, follows the
-- output it writes to a file in the workdir (stream_offset bytes of it are
-- already stored as log lines), then ingests the state it wrote. attempts
-- counts how many workers took the run (a crash loop must not retry forever).

ALTER TABLE runs ADD COLUMN process_pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN process_identity TEXT NOT NULL DEFAULT '';  -- boot id and start time of the PID
ALTER TABLE runs ADD COLUMN process_step TEXT NOT NULL DEFAULT '';      -- apply, destroy, refresh, ...
ALTER TABLE runs ADD COLUMN process_stream TEXT NOT NULL DEFAULT '';    -- file of its -json output, relative to the workdir
ALTER TABLE runs ADD COLUMN stream_offset BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
