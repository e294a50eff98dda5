-- Projections (see factum::projection): one row per projection version, with its
-- checkpoint (moved in the same transaction as its read-model writes), whether it is
-- the version queries read, and its lease (which instance runs it).
CREATE TABLE factum_projections (
    name              TEXT    NOT NULL,
    version           INTEGER NOT NULL,
    -- 'building' (catching up beside the live version), 'live' or 'retired'
    status            TEXT    NOT NULL,
    checkpoint        INTEGER NOT NULL DEFAULT 0,
    -- microseconds since the Unix epoch, UTC
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- the read-model tables of this version, as a JSON array of names
    tables            TEXT    NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

-- The sequence-aware dead-letter queue: events a projection could not apply, and the
-- later events of the same stream parked behind them, in order.
CREATE TABLE factum_dead_letters (
    projection       TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    position         INTEGER NOT NULL,
    stream_id        TEXT    NOT NULL,
    stream_version   INTEGER NOT NULL,
    event_id         BLOB    NOT NULL,
    event_type       TEXT    NOT NULL,
    -- 'parked' or 'skipped' (kept, with the reason, for the record)
    status           TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    parked_at        INTEGER NOT NULL,
    last_attempt_at  INTEGER NOT NULL,
    skip_reason      TEXT,
    PRIMARY KEY (projection, version, position)
) WITHOUT ROWID;

CREATE INDEX factum_dead_letters_by_stream
    ON factum_dead_letters (projection, version, stream_id, stream_version);

-- Event ids already delivered to sinks outside the database (factum::projection::dedup).
CREATE TABLE factum_delivered (
    consumer      TEXT    NOT NULL,
    event_id      BLOB    NOT NULL,
    delivered_at  INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
