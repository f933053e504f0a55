-- A read model never stops for everyone: when a projection's handler fails on an event, the
-- runtime keeps that event here (the poison), parks every later event of the same stream behind
-- it (so no row is built out of order), and goes on with every other stream. Query functions
-- consult it to mark the affected rows degraded; operators retry or skip (projections quarantine).

CREATE TABLE projection_quarantine (
    projection  text        NOT NULL,
    position    bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    stream_id   text        NOT NULL,
    type        text        NOT NULL,
    -- poison: its handler raised (error, error_class); parked: waits behind its stream's poison
    status      text        NOT NULL CHECK (status IN ('poison', 'parked')),
    error       text,
    error_class text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_tried  timestamptz NOT NULL DEFAULT now(),
    attempts    integer     NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    PRIMARY KEY (projection, position)
);
-- Which streams of a view are parked: asked once per batch, and by every degraded flag.
CREATE INDEX projection_quarantine_stream ON projection_quarantine (projection, stream_id);

-- Every operator decision on a quarantine, append-only: who retried or skipped what, why, and
-- what came of it. A rebuild of the same projection version honours the skips.
CREATE TABLE projection_quarantine_actions (
    id          bigserial   PRIMARY KEY,
    projection  text        NOT NULL,
    version     integer     NOT NULL,
    stream_id   text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('retry', 'skip')),
    -- the poison event the decision was about
    position    bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    actor       text        NOT NULL CHECK (actor <> ''),
    reason      text        NOT NULL CHECK (reason <> ''),
    -- applied: the stream is whole again; quarantined: it failed again (see error)
    outcome     text        NOT NULL CHECK (outcome IN ('applied', 'quarantined')),
    error       text,
    decided_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projection_quarantine_actions_skips ON projection_quarantine_actions (projection, version)
    WHERE action = 'skip';
-- An auditor's record: refused to be rewritten, like the events themselves.
CREATE FUNCTION projection_quarantine_actions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'projection_quarantine_actions is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER projection_quarantine_actions_append_only
    BEFORE UPDATE OR DELETE ON projection_quarantine_actions
    FOR EACH ROW EXECUTE FUNCTION projection_quarantine_actions_append_only();
