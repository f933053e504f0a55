-- Crypto-shredding: one AES-256 data key per data subject, wrapped by the instance key, kept
-- outside the events table. Personal fields in events are sealed under their subject's key;
-- deleting the row makes them unreadable while every stored byte (and so the hash chain) stays.
-- Subject ids and handles are keyed hashes: no identifier of the person is stored in clear.

CREATE TABLE data_subject_keys (
    subject_id  text        PRIMARY KEY,
    wrapped_key text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keyed hashes of what an admin may look a subject up by (an e-mail address, a login).
CREATE TABLE data_subject_handles (
    handle     text NOT NULL PRIMARY KEY,
    subject_id text NOT NULL REFERENCES data_subject_keys (subject_id) ON DELETE CASCADE
);
