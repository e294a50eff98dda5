UPDATE factum_streams SET deleted_at = ?2 WHERE stream_id = ?1 AND deleted_at IS NULL
