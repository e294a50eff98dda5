SELECT e.position, e.event_id, e.stream_version, e.event_type, e.schema_version,
       e.payload, e.metadata, e.recorded_at
FROM factum_streams s
JOIN factum_events e ON e.stream_id = s.stream_id
WHERE s.stream_id = ?1
  AND (s.deleted_at IS NULL OR ?2)
  AND e.stream_version BETWEEN ?3 AND ?4
ORDER BY e.stream_version DESC
LIMIT ?5
