-- `append_any.sql` with unique values and a position offset: the statement of
-- `append_unique` and of appends inside a caller's transaction. $10 is the index of the
-- transaction's first event in this append (0 outside a caller's transaction), $11 asks
-- for the order check, $12..$15 are the claimed and released scopes and values.
WITH serial AS (
    -- Writers of one stream queue here, before this transaction has a transaction id:
    -- taking the lock assigns none, and the first write below comes after it. So a
    -- stream's later events always get a later transaction id, hence a later position,
    -- than its earlier ones. (A row lock alone would not do: PostgreSQL may assign the
    -- id before it waits for the row.) Different streams almost never share a key.
    SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext($1))
), stream AS (
    INSERT INTO streams AS s (stream_id, category, version)
    SELECT $1, $2, $3 FROM serial
    ON CONFLICT (stream_id) DO UPDATE SET version = s.version + $3
        WHERE s.deleted_at IS NULL AND $4
    RETURNING s.version
), checked AS (
    -- Runs only if the stream passed its check (`stream` has its one row); raises, and
    -- so aborts the statement, if a claim is taken or the order would break.
    SELECT before_append(
               $1,
               ((pg_current_xact_id()::text::bigint + (SELECT value FROM position_base)) << 20)
                   | $10,
               $11, $12, $13, $14, $15)
    FROM stream
), appended AS (
    INSERT INTO events (position, event_id, stream_id, stream_version, category,
                        event_type, schema_version, payload, metadata)
    SELECT ((pg_current_xact_id()::text::bigint + (SELECT value FROM position_base)) << 20)
               | (e.ord - 1 + $10),
           e.event_id, $1, stream.version - $3 + e.ord, $2,
           e.event_type, e.schema_version, e.payload::json, e.metadata::json
    FROM stream, checked,
         unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[])
             WITH ORDINALITY AS e (event_id, event_type, schema_version, payload, metadata, ord)
    RETURNING position, stream_version
)
SELECT position, stream_version FROM appended ORDER BY stream_version
