SELECT event_id, stream_id, stream_version, position FROM events WHERE event_id = ANY($1)
