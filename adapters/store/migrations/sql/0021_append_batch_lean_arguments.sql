-- append_batch's arguments in a cheaper shape for the client. asyncpg checks every element of
-- every array argument (one or two `collections.abc` isinstance calls, about 2,000 client
-- instructions each) and encodes an aware timestamptz with two exception-raising comparisons:
-- an element fewer per append saves the client more than the function spends on it. So:
-- - `p_recorded_at` is one timestamptz for the whole batch (the client takes it as it sends
--   the batch, and builds each event's canonical bytes, which hold it, then);
-- - `p_keys` may be NULL: no append of the batch has an idempotency key;
-- - `p_event_append` may be NULL: each append has exactly one event, event i in append i;
-- - `p_stream_types`, `p_expected`, `p_types`, `p_schema_versions` and `p_metadata` may hold
--   one element, standing for every append's or event's (the same value, sent once); one
--   `metadata` is then parsed once, and one type's commit note needs no DISTINCT query;
-- - the guards' three arrays may be NULL when the batch has none (0020 took that as well).
-- Answers, judging, the lock and the chain are 0020's. Dropped and made again (its grant to the
-- API's role and its plan setting with it), as the arguments change.

DROP FUNCTION append_batch(text[], text[], bigint[], text[], integer[], uuid[], text[],
                           integer[], timestamptz[], text[], text[], bytea[], integer[], text[],
                           bigint[]);

CREATE FUNCTION append_batch(
    p_stream_ids      text[],
    p_stream_types    text[],
    p_expected        bigint[],
    p_keys            text[],     -- NULL: no append has a key
    p_event_append    integer[],  -- NULL: one event per append, in order
    p_event_ids       uuid[],
    p_types           text[],
    p_schema_versions integer[],
    p_recorded_at     timestamptz,
    p_data            text[],
    p_metadata        text[],
    p_canonical       bytea[],
    p_guard_append    integer[],  -- per guard: the append it guards (ascending, as events)
    p_guard_streams   text[],
    p_guard_versions  bigint[]
) RETURNS TABLE (
    status         text,
    actual_version bigint,
    from_version   bigint,
    to_version     bigint,
    first_position bigint,
    last_position  bigint,
    event_ids      uuid[],
    detail         text
) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    -- any fixed key; only this function takes it
    APPEND_LOCK CONSTANT bigint := 7046541628735488001;
    n_appends  integer := cardinality(p_stream_ids);
    n_events   integer := cardinality(p_event_ids);
    n_guards   integer := coalesce(cardinality(p_guard_streams), 0);
    guard_ver  bigint[];
    written    text[];     -- the streams of the appends judged `ok` so far, in batch order
    moved_g    integer;    -- the first moved guard of the append being judged
    g          integer;
    has_keys   boolean := coalesce(cardinality(array_remove(p_keys, NULL)) > 0, false);
    seen_pos   bigint;
    pos        bigint;
    keys_seen  bigint := 0;
    keys_now   bigint;
    head_ver   bigint[];
    head_hash  bytea[];
    head_type  text[];
    key_stream text[];
    key_from   bigint[];
    key_to     bigint[];
    key_first  bigint[];
    key_last   bigint[];
    key_ids    text[];
    o_status   text[];
    o_actual   bigint[];
    o_from     bigint[];
    o_to       bigint[];
    o_first    bigint[];
    o_last     bigint[];
    o_detail   text[];
    e_ord      bigint[];   -- the event's rank among those written: its position is pos + rank
    e_ver      bigint[];
    e_hash     bytea[];
    e_data     json[];
    e_metadata json[];
    n_written  bigint;
    judged     boolean := false;
    maybe_late boolean;    -- a conflict that a commit in flight may yet resolve
    moved      boolean;    -- one of our streams got an event since the judging before the lock
    i          integer;
    j          integer;
    ver        bigint;
    prev       bytea;
    note       text;
    types_note text;
    one_type   boolean := cardinality(p_types) = 1;
BEGIN
    -- A value the same for all is sent once: one element stands for every append or event.
    IF n_appends > 1 THEN
        IF cardinality(p_stream_types) = 1 THEN
            p_stream_types := array_fill(p_stream_types[1], ARRAY[n_appends]);
        END IF;
        IF cardinality(p_expected) = 1 THEN
            p_expected := array_fill(p_expected[1], ARRAY[n_appends]);
        END IF;
    END IF;
    IF n_events > 1 THEN
        IF one_type THEN
            p_types := array_fill(p_types[1], ARRAY[n_events]);
        END IF;
        IF cardinality(p_schema_versions) = 1 THEN
            p_schema_versions := array_fill(p_schema_versions[1], ARRAY[n_events]);
        END IF;
    END IF;
    -- Parsed outside the lock: invalid JSON fails the batch here, before it holds anyone up.
    e_data := p_data::json[];
    IF cardinality(p_metadata) = 1 THEN
        e_metadata := array_fill(p_metadata[1]::json, ARRAY[n_events]);
    ELSE
        e_metadata := p_metadata::json[];
    END IF;

    -- Twice at most: before the lock, then under it only if something read has moved since.
    LOOP
        IF judged THEN
            PERFORM pg_advisory_xact_lock(APPEND_LOCK);
            -- A statement of its own, after the lock: its fresh snapshot sees the last commit.
            SELECT coalesce(max(e.position), 0) INTO pos FROM events e;
            IF pos = seen_pos THEN
                EXIT;
            END IF;
            -- Only the events committed since `seen_pos`, found by position: a filter on
            -- stream_id in the WHERE clause led the generic plan to scan the table instead.
            SELECT coalesce(bool_or(e.stream_id = ANY(p_stream_ids)
                                    OR e.stream_id = ANY(p_guard_streams)), false) INTO moved
              FROM events e WHERE e.position > seen_pos AND e.position <= pos;
            IF NOT moved THEN
                IF NOT has_keys THEN
                    EXIT;
                END IF;
                SELECT count(*) INTO keys_now FROM idempotency_keys ik WHERE ik.key = ANY(p_keys);
                IF keys_now = keys_seen THEN
                    EXIT;
                END IF;
            END IF;
            -- Moved: judge again, now under the lock, on what is committed at `pos`.
            seen_pos := pos;
        ELSE
            -- Read first: every event committed by the time of the reads below is at or
            -- before it, as positions are given out in commit order.
            SELECT coalesce(max(e.position), 0) INTO seen_pos FROM events e;
        END IF;

        SELECT array_agg(h.version ORDER BY a.n), array_agg(h.hash ORDER BY a.n),
               array_agg(h.stream_type ORDER BY a.n)
          INTO head_ver, head_hash, head_type
          FROM unnest(p_stream_ids) WITH ORDINALITY AS a(stream_id, n)
          LEFT JOIN LATERAL (
                SELECT e.version, e.hash, e.stream_type FROM events e
                 WHERE e.stream_id = a.stream_id ORDER BY e.version DESC LIMIT 1
          ) h ON true;

        IF n_guards > 0 THEN
            SELECT array_agg(coalesce(h.version, 0) ORDER BY a.n) INTO guard_ver
              FROM unnest(p_guard_streams) WITH ORDINALITY AS a(stream_id, n)
              LEFT JOIN LATERAL (
                    SELECT e.version FROM events e
                     WHERE e.stream_id = a.stream_id ORDER BY e.version DESC LIMIT 1
              ) h ON true;
        END IF;

        IF has_keys THEN
            SELECT array_agg(ik.stream_id ORDER BY a.n), array_agg(ik.from_version ORDER BY a.n),
                   array_agg(ik.to_version ORDER BY a.n), array_agg(ik.first_position ORDER BY a.n),
                   array_agg(ik.last_position ORDER BY a.n), array_agg(ik.event_ids::text ORDER BY a.n),
                   count(ik.key)
              INTO key_stream, key_from, key_to, key_first, key_last, key_ids, keys_seen
              FROM unnest(p_keys) WITH ORDINALITY AS a(key, n)
              LEFT JOIN idempotency_keys ik ON ik.key = a.key;
        END IF;

        o_status := array_fill(NULL::text, ARRAY[n_appends]);
        o_actual := array_fill(NULL::bigint, ARRAY[n_appends]);
        o_from   := array_fill(NULL::bigint, ARRAY[n_appends]);
        o_to     := array_fill(NULL::bigint, ARRAY[n_appends]);
        o_first  := array_fill(NULL::bigint, ARRAY[n_appends]);
        o_last   := array_fill(NULL::bigint, ARRAY[n_appends]);
        o_detail := array_fill(NULL::text, ARRAY[n_appends]);
        e_ord    := array_fill(NULL::bigint, ARRAY[n_events]);
        e_ver    := array_fill(NULL::bigint, ARRAY[n_events]);
        e_hash   := array_fill(NULL::bytea, ARRAY[n_events]);
        n_written := 0;
        maybe_late := false;
        j := 1;
        g := 1;
        written := '{}';

        FOR i IN 1 .. n_appends LOOP
            moved_g := NULL;
            WHILE g <= n_guards AND p_guard_append[g] = i LOOP
                IF moved_g IS NULL AND (guard_ver[g] <> p_guard_versions[g]
                                        OR p_guard_streams[g] = ANY(written)) THEN
                    moved_g := g;
                END IF;
                g := g + 1;
            END LOOP;
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
                -- Behind the expected version: a batch committing meanwhile (the writer's
                -- next append to this stream, say) may bring it there; only the lock can tell.
                maybe_late := maybe_late OR o_actual[i] < p_expected[i];
            ELSIF moved_g IS NOT NULL THEN
                o_status[i] := 'guard_moved';
                o_actual[i] := guard_ver[moved_g];
                o_detail[i] := p_guard_streams[moved_g];
            ELSIF head_type[i] <> p_stream_types[i] THEN
                o_status[i] := 'type_mismatch';
                o_detail[i] := head_type[i];
            ELSE
                o_status[i] := 'ok';
                written := written || p_stream_ids[i];
            END IF;

            ver := p_expected[i];
            prev := coalesce(head_hash[i], '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
            WHILE j <= n_events AND coalesce(p_event_append[j], j) = i LOOP
                IF o_status[i] = 'ok' THEN
                    ver := ver + 1;
                    n_written := n_written + 1;
                    prev := sha256(prev || p_canonical[j]);
                    e_ord[j] := n_written;
                    e_ver[j] := ver;
                    e_hash[j] := prev;
                END IF;
                j := j + 1;
            END LOOP;
            IF o_status[i] = 'ok' THEN
                o_from[i] := p_expected[i] + 1;
                o_to[i] := ver;
                -- ranks for now: positions once the lock is held
                o_first[i] := n_written - (ver - p_expected[i]) + 1;
                o_last[i] := n_written;
            END IF;
        END LOOP;

        EXIT WHEN judged;  -- judged under the lock: final
        judged := true;
        IF n_written = 0 AND NOT maybe_late THEN
            -- Nothing to write (conflicts already past, replays): no lock, no position.
            -- A replay's answer needs no lock either: a stored key never changes.
            EXIT;
        END IF;
    END LOOP;

    IF n_written > 0 THEN
        FOR i IN 1 .. n_appends LOOP
            IF o_status[i] = 'ok' THEN
                o_first[i] := pos + o_first[i];
                o_last[i] := pos + o_last[i];
            END IF;
        END LOOP;

        INSERT INTO events (position, event_id, stream_id, stream_type, version, type,
                            schema_version, recorded_at, data, metadata, hash)
        SELECT pos + u.ord, u.event_id, p_stream_ids[coalesce(u.append, u.k)],
               p_stream_types[coalesce(u.append, u.k)], u.ver, u.type, u.schema_version,
               p_recorded_at, u.data, u.metadata, u.hash
          FROM unnest(e_ord, p_event_append, p_event_ids, e_ver, p_types, p_schema_versions,
                      e_data, e_metadata, e_hash) WITH ORDINALITY
               AS u(ord, append, event_id, ver, type, schema_version, data, metadata, hash, k)
         WHERE u.ord IS NOT NULL;

        IF has_keys THEN
            INSERT INTO idempotency_keys (key, stream_id, from_version, to_version,
                                          first_position, last_position, event_ids, created_at)
            SELECT a.key, a.stream_id, a.from_v, a.to_v, a.first_p, a.last_p,
                   ARRAY(SELECT p_event_ids[k] FROM generate_subscripts(p_event_ids, 1) AS k
                          WHERE coalesce(p_event_append[k], k) = a.n),
                   now()
              FROM unnest(p_keys, p_stream_ids, o_status, o_from, o_to, o_first, o_last)
                   WITH ORDINALITY AS a(key, stream_id, status, from_v, to_v, first_p, last_p, n)
             WHERE a.key IS NOT NULL AND a.status = 'ok';
        END IF;

        -- `first:last:types`: the positions this commit took and the types it may hold (the
        -- batch's, a failed append's included), so a listener knows, without a read, which
        -- readers have nothing to apply. Too long for a notification: `first:last` alone
        -- (the listener then knows nothing of the range and its readers read it).
        note := (pos + 1)::text || ':' || (pos + n_written)::text;
        IF one_type THEN
            types_note := p_types[1];
        ELSE
            types_note := array_to_string(ARRAY(SELECT DISTINCT t FROM unnest(p_types) AS t), ',');
        END IF;
        IF octet_length(types_note) < 7000 THEN
            note := note || ':' || types_note;
        END IF;
        PERFORM pg_notify('flowledger_events', note);
    END IF;

    RETURN QUERY
        SELECT u.status, u.actual, u.from_v, u.to_v, u.first_p, u.last_p,
               CASE WHEN u.status = 'duplicate' THEN u.detail::uuid[] END,
               CASE WHEN u.status = 'duplicate' THEN NULL ELSE u.detail END
          FROM unnest(o_status, o_actual, o_from, o_to, o_first, o_last, o_detail)
               AS u(status, actual, from_v, to_v, first_p, last_p, detail);
END;
$$;

GRANT EXECUTE ON FUNCTION append_batch(
    text[], text[], bigint[], text[], integer[], uuid[], text[], integer[], timestamptz,
    text[], text[], bytea[], integer[], text[], bigint[]
) TO flowledger_api;
