-- Append for `StreamExists` ($4 NULL) and `Exact(n)`, n > 0 ($4 = n): bump the stream
-- row only if it is in the expected state.
WITH serial AS (
    -- Writers of one stream queue here, before this transaction has a transaction id:
    -- taking the lock assigns none, and the first write below comes after it. So a
    -- stream's later events always get a later transaction id, hence a later position,
    -- than its earlier ones. (A row lock alone would not do: PostgreSQL may assign the
    -- id before it waits for the row.) Different streams almost never share a key.
    SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext($1))
), stream AS (
    UPDATE streams SET version = version + $3
    FROM serial
    WHERE stream_id = $1 AND deleted_at IS NULL AND ($4::bigint IS NULL OR version = $4)
    RETURNING version
), appended AS (
    INSERT INTO events (position, event_id, stream_id, stream_version, category,
                        event_type, schema_version, payload, metadata)
    SELECT ((pg_current_xact_id()::text::bigint + (SELECT value FROM position_base)) << 20)
               | (e.ord - 1),
           e.event_id, $1, stream.version - $3 + e.ord, $2,
           e.event_type, e.schema_version, e.payload::json, e.metadata::json
    FROM stream,
         unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[])
             WITH ORDINALITY AS e (event_id, event_type, schema_version, payload, metadata, ord)
    RETURNING position, stream_version
)
SELECT position, stream_version FROM appended ORDER BY stream_version
