-- Projections (see factum::projection): one row per projection version, with its
-- checkpoint (moved in the same transaction as its read-model writes) and whether it is
-- the version queries read. Leases are advisory locks, held by the running instance.
CREATE TABLE projections (
    name        text        COLLATE "C" NOT NULL,
    version     integer     NOT NULL,
    -- 'building' (catching up beside the live version), 'live' or 'retired'
    status      text        NOT NULL,
    checkpoint  bigint      NOT NULL DEFAULT 0,
    -- the read-model tables of this version
    tables      text[]      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- The sequence-aware dead-letter queue: events a projection could not apply, and the
-- later events of the same stream parked behind them, in order.
CREATE TABLE dead_letters (
    projection       text        COLLATE "C" NOT NULL,
    version          integer     NOT NULL,
    position         bigint      NOT NULL,
    stream_id        text        COLLATE "C" NOT NULL,
    stream_version   bigint      NOT NULL,
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    -- 'parked' or 'skipped' (kept, with the reason, for the record)
    status           text        NOT NULL,
    reason           text        NOT NULL,
    attempts         integer     NOT NULL,
    parked_at        timestamptz NOT NULL,
    last_attempt_at  timestamptz NOT NULL,
    skip_reason      text,
    PRIMARY KEY (projection, version, position)
);

CREATE INDEX dead_letters_by_stream
    ON dead_letters (projection, version, stream_id, stream_version);

-- Event ids already delivered to sinks outside the database (factum::projection::dedup).
CREATE TABLE delivered (
    consumer      text        COLLATE "C" NOT NULL,
    event_id      uuid        NOT NULL,
    delivered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
