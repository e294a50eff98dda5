-- The latest snapshot of each stream, per aggregate type reading it (see factum::snapshot).
CREATE TABLE snapshots (
    stream_id      text        COLLATE "C" NOT NULL,
    aggregate      text        COLLATE "C" NOT NULL,
    version        bigint      NOT NULL,
    state_version  integer     NOT NULL,
    state          json        NOT NULL,
    taken_at       timestamptz NOT NULL,
    PRIMARY KEY (stream_id, aggregate)
);
