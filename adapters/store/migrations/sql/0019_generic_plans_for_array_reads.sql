-- Statements that take their rows from an array parameter (a batch's streams, the wanted streams'
-- versions, the views asked about) were planned anew on every call. PostgreSQL's plan cache keeps a
-- generic plan only if it costs no more than the custom ones: a custom plan knows the array's
-- length, a generic one guesses, so with the few elements of a usual call the custom plan always
-- looked cheaper and the cache never kept one. Planning cost more than running (pg_stat_statements
-- over bench/webhooks.py --intake, per call): append_batch's head lookup 0.10 ms to plan against
-- 0.04 ms to run; a batch of stream tails 0.15 against 0.03; the views' reach 0.25 against 0.07;
-- the intake's key read 0.07 against 0.02. Their generic plans are the same nested loops of index
-- probes as the custom ones, whatever the length, so these statements are now planned once per
-- session: in functions whose plans are generic (a function's SET applies to the statements it
-- runs). A function returning a fixed row estimate needs no such setting: its callers' statement
-- costs the same custom or generic, so the cache keeps that one after its first five calls.
--
-- A later `CREATE OR REPLACE FUNCTION` of one of these must repeat its SET clause.

ALTER FUNCTION append_batch(text[], text[], bigint[], text[], integer[], uuid[], text[],
                            integer[], timestamptz[], text[], text[], bytea[])
    SET plan_cache_mode = force_generic_plan;

-- Each wanted stream's events from its version on (adapters/store/reader.py, read_tails).
CREATE FUNCTION read_tails(p_stream_ids text[], p_from_versions bigint[])
RETURNS SETOF events LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN QUERY
        SELECT e.* FROM unnest(p_stream_ids, p_from_versions) AS w(wanted_id, from_version),
               LATERAL (SELECT * FROM events WHERE stream_id = w.wanted_id
                           AND version >= w.from_version ORDER BY version) AS e;
END;
$$;

-- How far each named view's rows reach (projections/reached.py, where it is explained).
CREATE FUNCTION views_reached(p_names text[], p_look_ahead bigint)
RETURNS TABLE (name text, reached bigint) LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT c.name,
               CASE WHEN c.reads IS NULL OR c.position >= h.head THEN c.position
                    ELSE coalesce(
                        (SELECT min(e.position) - 1 FROM events e
                          WHERE e.position > c.position
                            AND e.position <= least(h.head, c.position + p_look_ahead)
                            AND e.type = ANY(c.reads)),
                        least(h.head, c.position + p_look_ahead))
               END
          FROM projection_checkpoints c,
               (SELECT coalesce(max(position), 0) AS head FROM events) AS h
         WHERE c.name = ANY(p_names);
END;
$$;

-- The wrapped keys still kept of the subjects named (adapters/store/personal/keys.py, wrapped).
CREATE FUNCTION kept_subject_keys(p_subjects text[])
RETURNS TABLE (subject_id text, wrapped_key text) LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN QUERY
        SELECT k.subject_id, k.wrapped_key FROM data_subject_keys k
         WHERE k.subject_id = ANY(p_subjects);
END;
$$;

GRANT EXECUTE ON FUNCTION read_tails(text[], bigint[]) TO flowledger_api;
GRANT EXECUTE ON FUNCTION kept_subject_keys(text[]) TO flowledger_api;
GRANT EXECUTE ON FUNCTION views_reached(text[], bigint) TO flowledger_api;
