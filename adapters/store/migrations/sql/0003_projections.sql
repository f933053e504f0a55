-- The projector runtime's bookkeeping: one row per projection, moved in the same transaction
-- as the projection's own rows, so after a crash it resumes exactly where it stopped.
--
-- The read models themselves live in schemas `rm_<name>` that the runtime creates from each
-- projection's DDL (and rebuilds as `rm_<name>__next` before swapping the two).

CREATE TABLE projection_checkpoints (
    name           text        PRIMARY KEY,
    -- the projection's version its tables were built with; a different one triggers a rebuild
    version        integer     NOT NULL,
    -- the last event position applied (0: none yet)
    position       bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    state          text        NOT NULL
                   CHECK (state IN ('running', 'failed', 'rebuilding', 'stopped')),
    -- a poison event: what its handler raised, and where
    error          text,
    error_position bigint,
    -- host:pid of the process that holds the projection's advisory lock
    owner          text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
