-- Webhook-source and subscription signing secrets, outside the events table: each value
-- encrypted (AES-256-GCM) under a data key of its own, wrapped by the instance key, so that
-- rotating the instance key re-wraps them like every other key. Events hold only a reference
-- (`kept:v1:<ref>`). Events written before this table held the value sealed under the
-- instance key itself; `sealed_digest` (SHA-256 of that sealed text) lets such a value be kept
-- here too, found by the event's text, so rotation covers it from then on.
CREATE TABLE kept_secrets (
    ref           uuid        PRIMARY KEY,
    wrapped_key   text        NOT NULL,
    ciphertext    bytea       NOT NULL,
    sealed_digest text        UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Peppers of keyed hashes (data subjects' ids and handles), wrapped by the instance key: they
-- stay the same across instance key rotations, so a person keeps one subject id.
CREATE TABLE instance_peppers (
    purpose     text        PRIMARY KEY,
    wrapped     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON kept_secrets TO flowledger_api;
GRANT SELECT, INSERT ON instance_peppers TO flowledger_api;
