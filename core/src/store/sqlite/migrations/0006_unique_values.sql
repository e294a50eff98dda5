-- Values unique across streams: one row per claimed value, naming the stream that holds
-- it. Written in the transaction of the append that claims or releases it.
CREATE TABLE factum_unique_values (
    scope       TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    stream_id   TEXT    NOT NULL,
    -- microseconds since the Unix epoch, UTC
    claimed_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, value)
) WITHOUT ROWID;
