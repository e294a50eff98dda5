-- The journal. `position` is the global log order: SQLite has one writer at a time, so
-- rowid order is commit order. AUTOINCREMENT keeps positions from ever being reused.
CREATE TABLE factum_events (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        BLOB    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    category        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    metadata        TEXT,
    -- microseconds since the Unix epoch, UTC
    recorded_at     INTEGER NOT NULL,
    UNIQUE (stream_id, stream_version)
);

-- One row per stream: its version makes the expected-version check a single lookup,
-- and listing a category's streams cheap.
CREATE TABLE factum_streams (
    stream_id   TEXT    PRIMARY KEY NOT NULL,
    category    TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
) WITHOUT ROWID;

CREATE INDEX factum_streams_by_category ON factum_streams (category, stream_id);
