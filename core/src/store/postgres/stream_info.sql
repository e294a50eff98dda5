SELECT stream_id, version, deleted_at FROM streams WHERE stream_id = $1
