-- Webhook subscriptions (issue 4). One row per subscription holds its definition, its delivery
-- state and its lease, so that every replica sees the same truth:
--   * the checkpoint `last_processed_event_global_position` moves only after a 2xx, and only by
--     the lease holder of the current epoch (the UPDATE checks owner and epoch);
--   * the pending retry (`retry_attempt`, `next_attempt_at`, and the batch's `pending_*`) is
--     stored, so a restart resumes the schedule instead of starting it over;
--   * the lease (`lease_owner`, `lease_until`, `lease_epoch`) is taken over when it expires —
--     not a session advisory lock, which connection poolers break.
CREATE TABLE subscriptions (
    store_id         integer     NOT NULL REFERENCES event_stores (id) ON DELETE CASCADE,
    id               text        NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    event_filter     jsonb       NOT NULL,
    subscriber_type  text        NOT NULL DEFAULT 'webhook' CHECK (subscriber_type = 'webhook'),
    webhook          jsonb       NOT NULL,
    secret           text,
    batch_size       integer     NOT NULL CHECK (batch_size BETWEEN 1 AND 1000),
    dead_letter_mode text        NOT NULL DEFAULT 'stop' CHECK (dead_letter_mode IN ('stop', 'deadLetter')),
    initial_position text        NOT NULL DEFAULT 'earliest' CHECK (initial_position IN ('earliest', 'latest')),
    status           text        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'SUSPENDED', 'ERROR')),
    status_details   jsonb,
    last_processed_event_global_position bigint NOT NULL DEFAULT 0
                                 CHECK (last_processed_event_global_position >= 0),
    retry_attempt    integer     NOT NULL DEFAULT 0 CHECK (retry_attempt >= 0),
    next_attempt_at  timestamptz,
    pending_delivery_id   text,
    pending_last_position bigint,
    last_delivered_at     timestamptz,
    lease_owner      text,
    lease_until      timestamptz,
    lease_epoch      bigint      NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, id)
);

-- Batches whose attempts ran out, for subscriptions that park instead of stopping. The batch is
-- kept as it was sent, so a redelivery sends exactly that.
CREATE TABLE subscription_dead_letters (
    id                    uuid        PRIMARY KEY,
    store_id              integer     NOT NULL,
    subscription_id       text        NOT NULL,
    delivery_id           text        NOT NULL,
    first_global_position bigint      NOT NULL,
    last_global_position  bigint      NOT NULL,
    event_count           integer     NOT NULL,
    events                jsonb       NOT NULL,
    attempts              integer     NOT NULL,
    last_error            text        NOT NULL,
    status                text        NOT NULL DEFAULT 'PARKED' CHECK (status IN ('PARKED', 'REDELIVERED')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    redelivered_at        timestamptz,
    FOREIGN KEY (store_id, subscription_id) REFERENCES subscriptions (store_id, id) ON DELETE CASCADE
);
CREATE INDEX subscription_dead_letters_by_subscription
    ON subscription_dead_letters (store_id, subscription_id, created_at);
