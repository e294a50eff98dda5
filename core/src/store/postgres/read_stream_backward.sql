-- A stream's events; or, if the stream is deleted (and deleted streams are not asked
-- for), one marker row with a NULL position instead, so that one round trip tells an
-- empty stream from a deleted one.
(
    SELECT e.position, e.event_id, e.stream_version, e.event_type, e.schema_version,
           e.payload::text, e.metadata::text, e.recorded_at
    FROM events e
    WHERE e.stream_id = $1
      AND e.stream_version BETWEEN $3 AND $4
      AND ($2 OR NOT EXISTS (
          SELECT 1 FROM streams s WHERE s.stream_id = $1 AND s.deleted_at IS NOT NULL))
    ORDER BY e.stream_version DESC
    LIMIT $5
)
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM streams s
WHERE s.stream_id = $1 AND s.deleted_at IS NOT NULL AND NOT $2 AND $5 > 0
