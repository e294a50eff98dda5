-- The latest snapshot of each stream (see factum::snapshot).
CREATE TABLE factum_snapshots (
    stream_id      TEXT    PRIMARY KEY NOT NULL,
    version        INTEGER NOT NULL,
    state_version  INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    -- microseconds since the Unix epoch, UTC
    taken_at       INTEGER NOT NULL
) WITHOUT ROWID;
