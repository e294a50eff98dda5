-- Where the ids of a refused append are stored, with what a retry must match (type,
-- schema version, payload text as appended).
SELECT e.event_id, e.stream_id, e.stream_version, e.position,
       e.event_type, e.schema_version, e.payload
FROM factum_events e
WHERE e.event_id IN (SELECT unhex(value) FROM json_each(?1))
