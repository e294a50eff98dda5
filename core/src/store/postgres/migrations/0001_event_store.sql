-- The journal. `position` is ((appending transaction id + base) << 20) | index within
-- the append: unique, and in the order readers may safely consume (see read_all.sql).
-- There is no sequence, so concurrent writers never contend on one.
CREATE TABLE events (
    position        bigint      PRIMARY KEY CHECK (position > 0),
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        COLLATE "C" NOT NULL,
    stream_version  bigint      NOT NULL,
    category        text        COLLATE "C" NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    payload         json        NOT NULL,
    metadata        json,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, stream_version)
);

-- One row per stream: the expected-version check is an atomic update of this row, which
-- also serialises writers of the same stream (and only of the same stream).
CREATE TABLE streams (
    -- Byte order (collation "C"), like the other backends, whatever the database's locale.
    stream_id   text        COLLATE "C" PRIMARY KEY,
    category    text        COLLATE "C" NOT NULL,
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

CREATE INDEX streams_by_category ON streams (category, stream_id);

-- Added to transaction ids in positions. It stays 0 unless the schema is moved to a
-- cluster whose transaction ids are behind the stored positions (a dump and restore, a
-- logical copy); then the store raises it on connect, so new positions stay above all
-- stored ones (see position_base_check.sql).
CREATE TABLE position_base (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    value  bigint  NOT NULL
);
INSERT INTO position_base (value) VALUES (0);
