SELECT e.event_id, e.stream_id, e.stream_version, e.position
FROM factum_events e
WHERE e.event_id IN (SELECT unhex(value) FROM json_each(?1))
