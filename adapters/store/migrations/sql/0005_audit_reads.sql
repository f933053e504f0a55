-- Indexes for the audit reads (adapters/audit): the global feed filtered by event type, the
-- feed filtered by time, and causation traced forward.

-- GET /api/v1/events?type=...: a type's events in position order, without reading the others.
CREATE INDEX events_type_position ON events (type, position);

-- recorded_after / recorded_before: recorded_at grows with position almost everywhere, which
-- is what a BRIN index needs; it costs next to nothing on append, unlike a B-tree.
CREATE INDEX events_recorded_at_brin ON events USING brin (recorded_at);

-- GET /api/v1/events/{id}/trace: the events a given event caused. Only events with a cause
-- are indexed (those the webhook intake writes, and commands sent with X-Causation-Id).
CREATE INDEX events_causation ON events ((metadata->>'causation_id'))
    WHERE metadata->>'causation_id' IS NOT NULL;
