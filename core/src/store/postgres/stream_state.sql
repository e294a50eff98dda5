SELECT version, deleted_at IS NOT NULL FROM streams WHERE stream_id = $1
