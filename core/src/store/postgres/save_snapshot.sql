-- Keeps the newest: a snapshot replaces the stored one if it is at a later stream version
-- of the same state version, or of a later state version. Code of an older state version
-- (a rollback, a rolling deploy) never replaces what newer code wrote.
INSERT INTO snapshots AS s (stream_id, aggregate, version, state_version, state, taken_at)
VALUES ($1, $2, $3, $4, $5::json, $6)
ON CONFLICT (stream_id, aggregate) DO UPDATE SET
    version = excluded.version,
    state_version = excluded.state_version,
    state = excluded.state,
    taken_at = excluded.taken_at
WHERE excluded.state_version > s.state_version
   OR (excluded.state_version = s.state_version AND excluded.version >= s.version)
