SELECT version, state_version, state::text, taken_at
FROM snapshots
WHERE stream_id = $1 AND aggregate = $2
