UPDATE streams SET deleted_at = now()
WHERE stream_id = $1 AND deleted_at IS NULL AND ($2::bigint IS NULL OR version = $2)
RETURNING version
