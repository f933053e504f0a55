-- Runner liveness: one row per runner that is (or was, until reaped) alive. Heartbeats are
-- far too frequent to be events; the runner's state changes (registered, lost, gone) are.

CREATE TABLE runner_heartbeats (
    runner_id uuid        PRIMARY KEY,
    -- when the API last heard from it (the moment its heartbeat command was received)
    seen_at   timestamptz NOT NULL,
    -- what the runner says it is running: [{"run_id": ..., "step": ..., "attempt": ...}]
    jobs      jsonb       NOT NULL DEFAULT '[]'
);

-- The reaper's question: who has been silent since before a moment.
CREATE INDEX runner_heartbeats_seen ON runner_heartbeats (seen_at);

-- The API records heartbeats (and deletes a deregistered runner's): see 0006_api_role.sql.
GRANT SELECT, INSERT, UPDATE, DELETE ON runner_heartbeats TO flowledger_api;
