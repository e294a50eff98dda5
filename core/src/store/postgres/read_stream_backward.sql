-- The deleted check is uncorrelated, so it runs once per query, not once per row.
SELECT e.position, e.event_id, e.stream_version, e.event_type, e.schema_version,
       e.payload::text, e.metadata::text, e.recorded_at
FROM events e
WHERE e.stream_id = $1
  AND e.stream_version BETWEEN $3 AND $4
  AND ($2 OR NOT EXISTS (
      SELECT 1 FROM streams s WHERE s.stream_id = $1 AND s.deleted_at IS NOT NULL))
ORDER BY e.stream_version DESC
LIMIT $5
