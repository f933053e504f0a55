-- The NATS relay's bookkeeping: how far it has published, and which project and pipeline
-- each stream belongs to (learnt from the events), moved together in one transaction.

CREATE TABLE relay_checkpoints (
    -- the JetStream stream the relay publishes to
    name       text        PRIMARY KEY,
    -- the last event position published and acknowledged (0: none yet)
    position   bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE relay_streams (
    stream_id   text PRIMARY KEY,
    project_id  text,
    pipeline_id text
);
