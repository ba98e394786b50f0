-- Appends made with an idempotency key: a retry with the same key and the same request (same
-- `request_hash`) is answered with the original result again, rebuilt from the append's events
-- (global positions first_global_position .. first_global_position + event_count - 1); the same
-- key with another request is refused. The result is not stored as JSON because the batch writer
-- learns the positions only inside the statement that takes the counter lock.
CREATE TABLE idempotency_keys (
    store_id              integer     NOT NULL,
    stream_id             text        NOT NULL,
    key                   text        NOT NULL,
    request_hash          text        NOT NULL,
    first_global_position bigint      NOT NULL,
    event_count           integer     NOT NULL CHECK (event_count >= 1),
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, stream_id, key)
);
