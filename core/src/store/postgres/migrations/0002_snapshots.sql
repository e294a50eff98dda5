-- The latest snapshot of each stream (see factum::snapshot).
CREATE TABLE snapshots (
    stream_id      text        COLLATE "C" PRIMARY KEY,
    version        bigint      NOT NULL,
    state_version  integer     NOT NULL,
    state          json        NOT NULL,
    taken_at       timestamptz NOT NULL
);
