-- Parks an event; a position already parked stays as it is.
INSERT INTO factum_dead_letters (projection, version, position, stream_id, stream_version,
                                 event_id, event_type, status, reason, attempts, parked_at,
                                 last_attempt_at, error_kind)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'parked', ?8, ?9, ?10, ?10, ?11)
ON CONFLICT DO NOTHING
