-- Named event stores. `counter` is the last global position handed out in this store: the group
-- commit writer takes this row's lock (UPDATE … SET counter = counter + n) as late as possible in
-- every append transaction, so positions are assigned in commit order and readers never see a
-- gap close behind them. `stream_count` and `event_bytes` are kept in the same UPDATE so that
-- statistics never scan the events table.
CREATE TABLE event_stores (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9_-]{3,63}$'),
    description  text,
    settings     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    counter      bigint      NOT NULL DEFAULT 0 CHECK (counter >= 0),
    stream_count bigint      NOT NULL DEFAULT 0,
    event_bytes  bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);
