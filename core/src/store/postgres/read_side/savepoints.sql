-- The savepoint each event of a batch replayed one by one is applied under. Each
-- statement follows its `-- name:` line.

-- name: set_savepoint
SAVEPOINT factum_event

-- name: release_savepoint
RELEASE SAVEPOINT factum_event

-- name: rollback_to_savepoint
ROLLBACK TO SAVEPOINT factum_event
