-- One row per stream: its version is the position of its last event (= its event count).
-- No foreign key to event_stores: deleting a store deletes its rows explicitly in one transaction,
-- and the hot append path is spared a per-row referential check.
CREATE TABLE streams (
    store_id  integer NOT NULL,
    stream_id text    NOT NULL,
    version   bigint  NOT NULL CHECK (version >= 1),
    PRIMARY KEY (store_id, stream_id)
);
