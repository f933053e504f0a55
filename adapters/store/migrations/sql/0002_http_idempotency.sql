-- Responses to POSTs that carried an Idempotency-Key, so a replay gets the same answer even
-- when running the command again would now decide something else (or nothing).
CREATE TABLE http_idempotency (
    key         text        PRIMARY KEY,  -- scoped to the caller: "<principal id>:<header value>"
    fingerprint text        NOT NULL,     -- sha256 of method, path and body
    status      integer     NOT NULL,
    body        bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX http_idempotency_by_age ON http_idempotency (created_at);
