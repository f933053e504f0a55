-- The gateway replays a pipeline's or a project's events (`after=`) in SQL. A stream belongs
-- where its first event says (the relay's rule for subjects): these indexes find the first
-- events naming a project or a pipeline, one row per stream, so the filter never scans events.

CREATE INDEX events_first_by_project ON events ((data->>'project_id')) WHERE version = 1;

CREATE INDEX events_first_by_pipeline ON events ((data->>'pipeline_id')) WHERE version = 1;
