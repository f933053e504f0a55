-- The role the HTTP API may run as: it appends events and reads everything, but can neither
-- rewrite nor remove history. NOLOGIN: an operator who wants the API to connect as it gives
-- it a login (`ALTER ROLE flowledger_api LOGIN PASSWORD '...'`) or grants it to the API's
-- login role (`GRANT flowledger_api TO api_login`). See "Database roles" in the README.
--
-- Roles belong to the whole cluster, so several databases (or concurrent migrations of them)
-- may race to create it: whoever loses finds it there, which is what we wanted.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flowledger_api') THEN
        CREATE ROLE flowledger_api NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;

-- Reading: every table of the schema (events, checkpoints, the migrations ledger for /ready),
-- and the read models' schemas the projector creates later (rm_<name>, rebuilt and swapped),
-- through default privileges on what the migrating role creates from now on.
GRANT USAGE ON SCHEMA public TO flowledger_api;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO flowledger_api;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO flowledger_api;
ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO flowledger_api;
DO $$
DECLARE
    s name;
BEGIN
    FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm\_%' LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO flowledger_api', s);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO flowledger_api', s);
    END LOOP;
END
$$;

-- Writing: appends (through append_batch, which runs with the caller's rights), the store's
-- idempotency keys, and the API's remembered answers to POSTs with an Idempotency-Key.
GRANT INSERT ON events, idempotency_keys, http_idempotency TO flowledger_api;
GRANT EXECUTE ON FUNCTION append_batch(
    text[], text[], bigint[], text[], integer[], uuid[], text[], integer[], timestamptz[],
    text[], text[], bytea[]
) TO flowledger_api;
-- Nothing else: no UPDATE, DELETE or TRUNCATE on events or idempotency_keys, for this role.
REVOKE UPDATE, DELETE, TRUNCATE ON events, idempotency_keys FROM flowledger_api;

-- Defence in depth for every other role: history is append-only. Rewriting it takes a
-- deliberate act by the table's owner or a superuser (`ALTER TABLE events DISABLE TRIGGER
-- events_append_only`, or `SET session_replication_role = replica`), and the hash chains
-- (`flowledger audit verify`) still show what was changed.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % on events is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'history is never rewritten; append a correcting event instead';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
