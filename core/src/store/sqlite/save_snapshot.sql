-- Keeps the newest: an older snapshot never replaces a newer one of the same state
-- version; one of another state version always replaces it.
INSERT INTO factum_snapshots (stream_id, version, state_version, state, taken_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (stream_id) DO UPDATE SET
    version = excluded.version,
    state_version = excluded.state_version,
    state = excluded.state,
    taken_at = excluded.taken_at
WHERE excluded.version >= factum_snapshots.version
   OR excluded.state_version <> factum_snapshots.state_version
