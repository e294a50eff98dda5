-- The global log, gap-free: only positions below the visible bound (visible_bound.sql,
-- which this statement starts with, and which argues why nothing can later commit below
-- it). The text conversions run on the page only, after the limit.
--
-- The upper bound is written `position + 0 < …` so that it is a filter, not an index
-- condition. The store's statements run as generic plans, and a generic plan estimates a
-- two-sided range on `position` at 0.5% of the table: it then read the whole range with a
-- bitmap scan and sorted it to keep one page (20 ms for a page of 500 with 50,000 events
-- after it). With one bound in the index condition the ordered index scan wins and stops
-- at the limit (0.4 ms). Rows above the bound are few while nothing holds the bound back
-- (appends in flight), so filtering them costs little. The reads repeated while an older
-- appender holds it back use the range form instead (`READ_ALL_WAITING_SQL`): then the
-- rows above it may be many, and the range below it is small.
SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
       payload::text, metadata::text, recorded_at
FROM (
    SELECT *
    FROM events
    WHERE position >= $1
      AND position + 0 < (SELECT position FROM bound)
      AND (cardinality($2::text[]) = 0 OR event_type = ANY($2))
      AND (cardinality($3::text[]) = 0 OR category = ANY($3))
    ORDER BY position
    LIMIT $4
) page
ORDER BY position
