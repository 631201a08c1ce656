-- Login throttling kept in the database, so that a restart (and several replicas)
-- see the same counters; and the admin flag that OIDC group membership grants,
-- recorded at each authentication so that every view of a user agrees.

CREATE TABLE login_failures (
    account  TEXT NOT NULL,   -- the username tried, lower-cased (it may not exist)
    client   TEXT NOT NULL,   -- the client address
    at       TEXT NOT NULL
);
CREATE INDEX login_failures_pair ON login_failures(account, client, at);
CREATE INDEX login_failures_client ON login_failures(client, at);
CREATE INDEX login_failures_at ON login_failures(at);

-- A lock refuses logins until a time: for one account from one client (scope
-- 'account'), or for every account from one client (scope 'client', account '').
CREATE TABLE login_locks (
    scope    TEXT NOT NULL CHECK (scope IN ('account', 'client')),
    account  TEXT NOT NULL,
    client   TEXT NOT NULL,
    until    TEXT NOT NULL,
    PRIMARY KEY (scope, account, client)
);

-- Clients an account logged in from: a client-wide lock (password spraying from a
-- shared address) never refuses an account on a client it is known to use.
CREATE TABLE login_known_clients (
    account  TEXT NOT NULL,
    client   TEXT NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (account, client)
);

ALTER TABLE users ADD COLUMN group_admin INTEGER NOT NULL DEFAULT 0;
