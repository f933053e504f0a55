-- The event store: every fact is a row in `events`.
--
-- Global order: appends serialise on one transaction-level advisory lock, held until
-- commit, and take the next positions after the highest committed one. Positions are thus
-- handed out in commit order and without gaps, and a reader doing `position > last` can
-- never skip an event that commits late.

CREATE TABLE events (
    position       bigint      PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    stream_id      text        NOT NULL,
    stream_type    text        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    type           text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    recorded_at    timestamptz NOT NULL,
    -- `json`, not `jsonb`: the exact bytes that were hashed are kept, so an auditor can
    -- recompute every hash from what is stored.
    data           json        NOT NULL,
    metadata       json        NOT NULL,
    hash           bytea       NOT NULL,
    -- also the index that finds a stream's head: its last version and hash
    UNIQUE (stream_id, version)
);

CREATE TABLE idempotency_keys (
    key            text        PRIMARY KEY,
    stream_id      text        NOT NULL,
    from_version   bigint      NOT NULL,
    to_version     bigint      NOT NULL,
    first_position bigint      NOT NULL,
    last_position  bigint      NOT NULL,
    event_ids      uuid[]      NOT NULL,
    created_at     timestamptz NOT NULL
);

-- Appends a batch of independent appends in one transaction (one WAL flush for all).
-- The caller guarantees that a stream id, and an idempotency key, appears at most once per
-- batch. Append i owns the events whose p_event_append is i, in order. Each append is
-- judged on its own: a conflict or a reused key rejects that append only.
CREATE FUNCTION append_batch(
    p_stream_ids      text[],
    p_stream_types    text[],
    p_expected        bigint[],
    p_keys            text[],
    p_event_append    integer[],
    p_event_ids       uuid[],
    p_types           text[],
    p_schema_versions integer[],
    p_recorded_at     timestamptz[],
    p_data            text[],
    p_metadata        text[],
    p_canonical       bytea[]
) RETURNS TABLE (
    status         text,
    actual_version bigint,
    from_version   bigint,
    to_version     bigint,
    first_position bigint,
    last_position  bigint,
    event_ids      uuid[],
    detail         text
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    -- any fixed key; only this function takes it
    APPEND_LOCK CONSTANT bigint := 7046541628735488001;
    n_appends  integer := cardinality(p_stream_ids);
    pos        bigint;
    start_pos  bigint;
    head_ver   bigint[];
    head_hash  bytea[];
    head_type  text[];
    key_stream text[];
    key_from   bigint[];
    key_to     bigint[];
    key_first  bigint[];
    key_last   bigint[];
    key_ids    text[];
    o_status   text[]   := array_fill(NULL::text, ARRAY[n_appends]);
    o_actual   bigint[] := array_fill(NULL::bigint, ARRAY[n_appends]);
    o_from     bigint[] := array_fill(NULL::bigint, ARRAY[n_appends]);
    o_to       bigint[] := array_fill(NULL::bigint, ARRAY[n_appends]);
    o_first    bigint[] := array_fill(NULL::bigint, ARRAY[n_appends]);
    o_last     bigint[] := array_fill(NULL::bigint, ARRAY[n_appends]);
    o_detail   text[]   := array_fill(NULL::text, ARRAY[n_appends]);
    e_pos      bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_event_ids)]);
    e_ver      bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_event_ids)]);
    e_hash     bytea[]  := array_fill(NULL::bytea, ARRAY[cardinality(p_event_ids)]);
    i          integer;
    j          integer := 1;
    n_events   integer := cardinality(p_event_ids);
    ver        bigint;
    prev       bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(APPEND_LOCK);
    -- A statement of its own, after the lock: its fresh snapshot sees the last holder's commit.
    SELECT coalesce(max(e.position), 0) INTO pos FROM events e;
    start_pos := pos;

    SELECT array_agg(h.version ORDER BY a.n), array_agg(h.hash ORDER BY a.n),
           array_agg(h.stream_type ORDER BY a.n)
      INTO head_ver, head_hash, head_type
      FROM unnest(p_stream_ids) WITH ORDINALITY AS a(stream_id, n)
      LEFT JOIN LATERAL (
            SELECT e.version, e.hash, e.stream_type FROM events e
             WHERE e.stream_id = a.stream_id ORDER BY e.version DESC LIMIT 1
      ) h ON true;

    IF cardinality(array_remove(p_keys, NULL)) > 0 THEN
        SELECT array_agg(ik.stream_id ORDER BY a.n), array_agg(ik.from_version ORDER BY a.n),
               array_agg(ik.to_version ORDER BY a.n), array_agg(ik.first_position ORDER BY a.n),
               array_agg(ik.last_position ORDER BY a.n), array_agg(ik.event_ids::text ORDER BY a.n)
          INTO key_stream, key_from, key_to, key_first, key_last, key_ids
          FROM unnest(p_keys) WITH ORDINALITY AS a(key, n)
          LEFT JOIN idempotency_keys ik ON ik.key = a.key;
    END IF;

    FOR i IN 1 .. n_appends LOOP
        IF key_stream[i] IS NOT NULL THEN
            IF key_stream[i] <> p_stream_ids[i] THEN
                o_status[i] := 'key_reused';
                o_detail[i] := key_stream[i];
            ELSE
                o_status[i] := 'duplicate';
                o_from[i] := key_from[i]; o_to[i] := key_to[i];
                o_first[i] := key_first[i]; o_last[i] := key_last[i];
                o_detail[i] := key_ids[i];
            END IF;
        ELSIF coalesce(head_ver[i], 0) <> p_expected[i] THEN
            o_status[i] := 'conflict';
            o_actual[i] := coalesce(head_ver[i], 0);
        ELSIF head_type[i] <> p_stream_types[i] THEN
            o_status[i] := 'type_mismatch';
            o_detail[i] := head_type[i];
        ELSE
            o_status[i] := 'ok';
        END IF;

        ver := p_expected[i];
        prev := coalesce(head_hash[i], '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
        o_first[i] := CASE WHEN o_status[i] = 'ok' THEN pos + 1 ELSE o_first[i] END;
        WHILE j <= n_events AND p_event_append[j] = i LOOP
            IF o_status[i] = 'ok' THEN
                ver := ver + 1;
                pos := pos + 1;
                prev := sha256(prev || p_canonical[j]);
                e_pos[j] := pos;
                e_ver[j] := ver;
                e_hash[j] := prev;
            END IF;
            j := j + 1;
        END LOOP;
        IF o_status[i] = 'ok' THEN
            o_from[i] := p_expected[i] + 1;
            o_to[i] := ver;
            o_last[i] := pos;
        END IF;
    END LOOP;

    IF pos > start_pos THEN
        INSERT INTO events (position, event_id, stream_id, stream_type, version, type,
                            schema_version, recorded_at, data, metadata, hash)
        SELECT u.pos, u.event_id, p_stream_ids[u.append], p_stream_types[u.append], u.ver, u.type,
               u.schema_version, u.recorded_at, u.data::json, u.metadata::json, u.hash
          FROM unnest(e_pos, p_event_append, p_event_ids, e_ver, p_types, p_schema_versions,
                      p_recorded_at, p_data, p_metadata, e_hash)
               AS u(pos, append, event_id, ver, type, schema_version, recorded_at, data, metadata, hash)
         WHERE u.pos IS NOT NULL;

        IF key_stream IS NOT NULL THEN
            INSERT INTO idempotency_keys (key, stream_id, from_version, to_version,
                                          first_position, last_position, event_ids, created_at)
            SELECT a.key, a.stream_id, a.from_v, a.to_v, a.first_p, a.last_p,
                   ARRAY(SELECT p_event_ids[k] FROM generate_subscripts(p_event_append, 1) AS k
                          WHERE p_event_append[k] = a.n),
                   now()
              FROM unnest(p_keys, p_stream_ids, o_status, o_from, o_to, o_first, o_last)
                   WITH ORDINALITY AS a(key, stream_id, status, from_v, to_v, first_p, last_p, n)
             WHERE a.key IS NOT NULL AND a.status = 'ok';
        END IF;

        PERFORM pg_notify('flowledger_events', pos::text);
    END IF;

    RETURN QUERY
        SELECT u.status, u.actual, u.from_v, u.to_v, u.first_p, u.last_p,
               CASE WHEN u.status = 'duplicate' THEN u.detail::uuid[] END,
               CASE WHEN u.status = 'duplicate' THEN NULL ELSE u.detail END
          FROM unnest(o_status, o_actual, o_from, o_to, o_first, o_last, o_detail)
               AS u(status, actual, from_v, to_v, first_p, last_p, detail);
END;
$$;
