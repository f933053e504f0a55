-- Project secrets' values, outside the events table: each version encrypted (AES-256-GCM) under
-- its own data key, the data key wrapped by the instance key. Events only say that a version was
-- set or deleted, with a keyed fingerprint. Deleting a secret deletes its rows: the value is gone.
-- A row is `committed` once the event recording its version is appended; only those are revealed.

CREATE TABLE secret_values (
    token          uuid        PRIMARY KEY,
    secret_id      uuid        NOT NULL,
    project_id     uuid        NOT NULL,
    version        integer     NOT NULL,
    wrapped_key    text        NOT NULL,
    ciphertext     bytea       NOT NULL,
    committed      boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- The secret id is derived from (project, name, environment) (domain/secret.py): looked up by it.
CREATE INDEX secret_values_of_secret ON secret_values (secret_id, version);

GRANT SELECT, INSERT, UPDATE, DELETE ON secret_values TO flowledger_api;
