SELECT version, state_version, state, taken_at
FROM factum_snapshots
WHERE stream_id = ?1 AND aggregate = ?2
