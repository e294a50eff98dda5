SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
       payload, metadata, recorded_at
FROM factum_events
WHERE position >= ?1
  AND (?2 IS NULL OR event_type IN (SELECT value FROM json_each(?2)))
  AND (?3 IS NULL OR category IN (SELECT value FROM json_each(?3)))
ORDER BY position
LIMIT ?4
