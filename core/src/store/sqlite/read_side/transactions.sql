-- The transactions of the read side: how a batch begins, and the savepoint each event
-- of a batch replayed one by one is applied under. Each statement follows its
-- `-- name:` line.

-- A batch: takes the write lock at once, so that it never fails to upgrade a read
-- lock to a write lock half-way.
-- name: begin_write
BEGIN IMMEDIATE

-- name: set_savepoint
SAVEPOINT factum_event

-- name: release_savepoint
RELEASE SAVEPOINT factum_event

-- name: rollback_to_savepoint
ROLLBACK TO SAVEPOINT factum_event
