-- Results of appends made with an idempotency key: a retry with the same key and the same request
-- (same `request_hash`) gets `result` again; the same key with another request is refused.
CREATE TABLE idempotency_keys (
    store_id     integer     NOT NULL,
    stream_id    text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    result       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, stream_id, key)
);
