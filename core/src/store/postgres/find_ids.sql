-- Where the ids of a refused append are stored, with what a retry must match (type,
-- schema version, payload text: `json` keeps it as appended).
SELECT event_id, stream_id, stream_version, position, event_type, schema_version, payload::text
FROM events
WHERE event_id = ANY($1)
