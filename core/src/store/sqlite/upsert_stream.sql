INSERT INTO factum_streams (stream_id, category, version, created_at)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version
