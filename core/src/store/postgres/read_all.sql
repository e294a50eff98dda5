-- The global log, gap-free: only positions below the visible bound (visible_bound.sql,
-- which this statement starts with, and which argues why nothing can later commit below
-- it). The text conversions run on the page only, after the limit.
SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
       payload::text, metadata::text, recorded_at
FROM (
    SELECT *
    FROM events
    WHERE position >= $1
      AND position < (SELECT position FROM bound)
      AND (cardinality($2::text[]) = 0 OR event_type = ANY($2))
      AND (cardinality($3::text[]) = 0 OR category = ANY($3))
    ORDER BY position
    LIMIT $4
) page
ORDER BY position
