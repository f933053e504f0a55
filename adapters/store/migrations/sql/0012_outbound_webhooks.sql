-- The deliverer's log of outbound webhook attempts: one row per HTTP request it made (or
-- tried to make) to a subscription's URL. Operational records, like the relay's checkpoint:
-- the decisions about a delivery (parked after its retries, a re-send asked for, a failing
-- subscription disabled) are events on the subscription's stream. Which events a subscription
-- has been sent is kept by its durable JetStream consumer.

CREATE TABLE outbound_attempts (
    id              bigserial   PRIMARY KEY,
    subscription_id uuid        NOT NULL,
    -- the Standard Webhooks `webhook-id`: the event id, the same on every retry
    message_id      text        NOT NULL,
    event_position  bigint      NOT NULL CHECK (event_position > 0),
    event_type      text        NOT NULL,
    attempt         integer     NOT NULL CHECK (attempt > 0),
    attempted_at    timestamptz NOT NULL,
    -- the receiver's HTTP status; NULL when no answer came (refused, timed out, blocked)
    status_code     integer,
    error           text        NOT NULL DEFAULT '',
    duration_ms     integer     NOT NULL CHECK (duration_ms >= 0),
    -- delivered (2xx), retrying (will be tried again), parked (given up), resent (a re-send)
    outcome         text        NOT NULL
);
CREATE INDEX outbound_attempts_subscription ON outbound_attempts (subscription_id, id);
CREATE INDEX outbound_attempts_message ON outbound_attempts (subscription_id, message_id, id);
