-- The events. The primary key is the read-all order; the unique (store, stream, position) key is
-- the last line of defence against two writers that both believed they were next on a stream
-- (SQLSTATE 23505 → retried under the lock, then 409); the unique event id makes `eventId`
-- retries idempotent.
CREATE TABLE events (
    store_id        integer     NOT NULL,
    global_position bigint      NOT NULL CHECK (global_position >= 1),
    stream_id       text        NOT NULL,
    stream_position bigint      NOT NULL CHECK (stream_position >= 1),
    event_id        uuid        NOT NULL,
    type            text        NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb,
    schema_version  integer     NOT NULL,
    transaction_id  uuid        NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (store_id, global_position),
    UNIQUE (store_id, stream_id, stream_position),
    UNIQUE (store_id, event_id)
);
