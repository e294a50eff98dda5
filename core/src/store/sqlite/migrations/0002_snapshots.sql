-- The latest snapshot of each stream, per aggregate type reading it (see factum::snapshot).
CREATE TABLE factum_snapshots (
    stream_id      TEXT    NOT NULL,
    aggregate      TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    state_version  INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    -- microseconds since the Unix epoch, UTC
    taken_at       INTEGER NOT NULL,
    PRIMARY KEY (stream_id, aggregate)
) WITHOUT ROWID;
