-- The transactions of the read side: how a batch begins, and the savepoint each event
-- of a batch replayed one by one is applied under. Each statement follows its
-- `-- name:` line.

-- A batch: an ordinary transaction (rows and the checkpoint lock as they are written).
-- name: begin_write
BEGIN

-- name: set_savepoint
SAVEPOINT factum_event

-- name: release_savepoint
RELEASE SAVEPOINT factum_event

-- name: rollback_to_savepoint
ROLLBACK TO SAVEPOINT factum_event
