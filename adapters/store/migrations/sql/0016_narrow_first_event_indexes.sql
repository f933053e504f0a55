-- The gateway's replay (adapters/store/replay.py) looks a pipeline's runs up among first events
-- of type RunRequested only, and a project's streams among first events of the types listed in
-- PROJECT_IN_DATA only. 0008's indexes held every stream's first event, with a NULL key for the
-- many that name no pipeline or project: every new stream paid two JSON parses and two B-tree
-- inserts (and their WAL) under the append lock, for entries no query can match. Narrowed to
-- the types the replay asks for; the predicate reads `type` alone, so other first events cost
-- no JSON parse at all. Same names, so the plans and the test that checks them stay as they are.

CREATE INDEX events_first_by_pipeline_narrow ON events ((data->>'pipeline_id'))
    WHERE version = 1 AND type = 'RunRequested';
DROP INDEX events_first_by_pipeline;
ALTER INDEX events_first_by_pipeline_narrow RENAME TO events_first_by_pipeline;

CREATE INDEX events_first_by_project_narrow ON events ((data->>'project_id'))
    WHERE version = 1 AND type IN ('PipelineCreated', 'RunRequested', 'ApiKeyIssued',
        'WebhookSourceRegistered', 'WebhookReceived', 'EnvironmentConfigured',
        'ConcurrencyGroupOpened', 'ApproverGroupCreated');
DROP INDEX events_first_by_project;
ALTER INDEX events_first_by_project_narrow RENAME TO events_first_by_project;
