-- append_batch's judging loop with fewer PL/pgSQL statements per append. Each statement the
-- function runs costs about 1,000 backend instructions besides its work (a simple expression
-- evaluated through its own executor state), and 0021 ran some 28 per one-event append: one
-- IF per verdict tried, the failure details' slots, the events' inner loop for a one-event
-- append, and a second loop turning ranks into positions. Now, for an append written: one
-- CASE for the verdict, then the rank and the hash (and, where an append has several events,
-- 0021's inner loop); its from, to and first are worked out in the answer's statement and its
-- version in the INSERT, from p_expected, and ranks become positions there too. A refusal's
-- details are set only for refusals. The guards' bookkeeping runs only when there are guards.
-- The events' data and canonical bytes each come as one value joined by newlines (asyncpg
-- checks every element of an array argument, two `collections.abc` isinstance calls for a str
-- or bytes, about 2,500 client instructions each); compact JSON holds no raw newline. The
-- hash covers the same bytes as before.
-- Answers, judging, lock and chain as 0021's (a property test calls both on drawn batches:
-- tests/integration/event_store/postgres/test_append_batch_0022.py). Dropped and made again
-- (its grant to the API's role with it), as the arguments change.
DROP FUNCTION append_batch(text[], text[], bigint[], text[], integer[], uuid[], text[],
                           integer[], timestamptz, text[], text[], bytea[], integer[], text[],
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
    p_data            text,       -- the events' data, joined by newlines
    p_metadata        text[],
    p_canonical       bytea,      -- the events' canonical bytes, joined by newlines
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
    one_each   boolean := p_event_append IS NULL;  -- event i is append i's one event
    canonical  text[];     -- the events' canonical bytes, split; convert_to gives them back
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
    -- Compact JSON holds no raw newline (the client's encoder escapes it in strings), so the
    -- joined data and canonical bytes split back into exactly one piece per event.
    e_data := string_to_array(p_data, E'\n')::json[];
    canonical := string_to_array(convert_from(p_canonical, 'UTF8'), E'\n');
    IF cardinality(e_data) <> n_events OR cardinality(canonical) <> n_events THEN
        RAISE EXCEPTION 'append_batch: % events, % data and % canonical pieces', n_events,
            cardinality(e_data), cardinality(canonical);
    END IF;
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
            IF n_guards > 0 THEN
                moved_g := NULL;
                WHILE g <= n_guards AND p_guard_append[g] = i LOOP
                    IF moved_g IS NULL AND (guard_ver[g] <> p_guard_versions[g]
                                            OR p_guard_streams[g] = ANY(written)) THEN
                        moved_g := g;
                    END IF;
                    g := g + 1;
                END LOOP;
            END IF;
            -- One expression for the verdict (0021's IF chain, in its order); the details of
            -- a refusal below, for refusals only.
            o_status[i] := CASE
                WHEN key_stream[i] IS NOT NULL THEN
                    CASE WHEN key_stream[i] <> p_stream_ids[i] THEN 'key_reused' ELSE 'duplicate' END
                WHEN coalesce(head_ver[i], 0) <> p_expected[i] THEN 'conflict'
                WHEN moved_g IS NOT NULL THEN 'guard_moved'
                WHEN head_type[i] <> p_stream_types[i] THEN 'type_mismatch'
                ELSE 'ok' END;
            IF o_status[i] = 'ok' THEN
                IF n_guards > 0 THEN
                    written := written || p_stream_ids[i];
                END IF;
                IF one_each THEN
                    -- its version (p_expected + 1) is taken in the INSERT, its answer's
                    -- from, to and first in the answer
                    n_written := n_written + 1;
                    e_ord[i] := n_written;
                    e_hash[i] := sha256(coalesce(head_hash[i], '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                                        || convert_to(canonical[i], 'UTF8'));
                ELSE
                    ver := p_expected[i];
                    prev := coalesce(head_hash[i], '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
                    WHILE j <= n_events AND p_event_append[j] = i LOOP
                        ver := ver + 1;
                        n_written := n_written + 1;
                        prev := sha256(prev || convert_to(canonical[j], 'UTF8'));
                        e_ord[j] := n_written;
                        e_ver[j] := ver;
                        e_hash[j] := prev;
                        j := j + 1;
                    END LOOP;
                    o_to[i] := ver;
                END IF;
                o_last[i] := n_written;  -- a rank for now: a position once the lock is held
            ELSE
                IF o_status[i] = 'conflict' THEN
                    o_actual[i] := coalesce(head_ver[i], 0);
                    -- Behind the expected version: a batch committing meanwhile (the writer's
                    -- next append to this stream, say) may bring it there; only the lock can tell.
                    maybe_late := maybe_late OR o_actual[i] < p_expected[i];
                ELSIF o_status[i] = 'duplicate' THEN
                    o_from[i] := key_from[i]; o_to[i] := key_to[i];
                    o_first[i] := key_first[i]; o_last[i] := key_last[i];
                    o_detail[i] := key_ids[i];
                ELSIF o_status[i] = 'key_reused' THEN
                    o_detail[i] := key_stream[i];
                ELSIF o_status[i] = 'guard_moved' THEN
                    o_actual[i] := guard_ver[moved_g];
                    o_detail[i] := p_guard_streams[moved_g];
                ELSE
                    o_detail[i] := head_type[i];
                END IF;
                IF NOT one_each THEN
                    WHILE j <= n_events AND p_event_append[j] = i LOOP
                        j := j + 1;
                    END LOOP;
                END IF;
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
        INSERT INTO events (position, event_id, stream_id, stream_type, version, type,
                            schema_version, recorded_at, data, metadata, hash)
        SELECT pos + u.ord, u.event_id, p_stream_ids[coalesce(u.append, u.k)],
               p_stream_types[coalesce(u.append, u.k)],
               coalesce(u.ver, p_expected[u.k] + 1),  -- NULL: one event each, append k's
               u.type, u.schema_version,
               p_recorded_at, u.data, u.metadata, u.hash
          FROM unnest(e_ord, p_event_append, p_event_ids, e_ver, p_types, p_schema_versions,
                      e_data, e_metadata, e_hash) WITH ORDINALITY
               AS u(ord, append, event_id, ver, type, schema_version, data, metadata, hash, k)
         WHERE u.ord IS NOT NULL;

        IF has_keys THEN
            INSERT INTO idempotency_keys (key, stream_id, from_version, to_version,
                                          first_position, last_position, event_ids, created_at)
            SELECT a.key, a.stream_id, a.expected + 1, coalesce(a.to_v, a.expected + 1),
                   pos + a.last_r - (coalesce(a.to_v, a.expected + 1) - a.expected) + 1, pos + a.last_r,
                   ARRAY(SELECT p_event_ids[k] FROM generate_subscripts(p_event_ids, 1) AS k
                          WHERE coalesce(p_event_append[k], k) = a.n),
                   now()
              FROM unnest(p_keys, p_stream_ids, o_status, p_expected, o_to, o_last)
                   WITH ORDINALITY AS a(key, stream_id, status, expected, to_v, last_r, n)
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
          FROM (SELECT o.status, o.actual, o.detail,
                       CASE WHEN o.status = 'ok' THEN o.expected + 1 ELSE o.from_v END AS from_v,
                       CASE WHEN o.status = 'ok' THEN coalesce(o.to_v, o.expected + 1)
                            ELSE o.to_v END AS to_v,
                       CASE WHEN o.status = 'ok'
                            THEN pos + o.last_p - (coalesce(o.to_v, o.expected + 1) - o.expected) + 1
                            ELSE o.first_p END AS first_p,
                       CASE WHEN o.status = 'ok' THEN pos + o.last_p ELSE o.last_p END AS last_p
                  FROM unnest(o_status, o_actual, o_from, o_to, o_first, o_last, o_detail,
                              p_expected)
                       AS o(status, actual, from_v, to_v, first_p, last_p, detail, expected)) u;
END;
$$;

GRANT EXECUTE ON FUNCTION append_batch(
    text[], text[], bigint[], text[], integer[], uuid[], text[], integer[], timestamptz,
    text, text[], bytea, integer[], text[], bigint[]
) TO flowledger_api;
