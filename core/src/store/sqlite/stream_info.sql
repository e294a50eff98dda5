SELECT stream_id, version, deleted_at FROM factum_streams WHERE stream_id = ?1
