SELECT stream_id, version, deleted_at
FROM factum_streams
WHERE category = ?1 AND stream_id > ?2
ORDER BY stream_id
LIMIT ?3
