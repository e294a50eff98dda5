-- Projection rows: one per projection version, with its checkpoint, its tables (a JSON
-- array of names) and its lease. Times are microseconds since the epoch. Each statement
-- follows its `-- name:` line.

-- name: lock_registrations
-- Registrations queue so that one version of a name goes live and one projection owns a
-- table; the transaction began IMMEDIATE and already holds SQLite's write lock.
SELECT 1

-- name: tables_of_others
SELECT name, tables FROM factum_projections WHERE name <> ?1

-- name: register_projection
-- The first version of a name goes live at once; later ones build beside it.
INSERT INTO factum_projections (name, version, status, checkpoint, created_at, updated_at,
                                tables)
SELECT ?1, ?2,
       CASE WHEN EXISTS (SELECT 1 FROM factum_projections WHERE name = ?1 AND status = 'live')
            THEN 'building' ELSE 'live' END,
       0, ?3, ?3, ?4
WHERE true
ON CONFLICT (name, version) DO NOTHING

-- name: checkpoint
SELECT checkpoint FROM factum_projections WHERE name = ?1 AND version = ?2

-- name: lock_checkpoint
-- The transaction began IMMEDIATE: it already holds the write lock.
SELECT checkpoint FROM factum_projections WHERE name = ?1 AND version = ?2

-- name: advance_checkpoint
-- Moves the checkpoint from ?3 to ?4 if it is still at ?3 and, when ?6 names an owner,
-- the lease is still theirs, which this renews until ?7.
UPDATE factum_projections
SET checkpoint = ?4, updated_at = ?5,
    lease_expires_at = CASE WHEN ?6 IS NULL THEN lease_expires_at ELSE ?7 END
WHERE name = ?1 AND version = ?2 AND checkpoint = ?3 AND (?6 IS NULL OR lease_owner = ?6)

-- name: statuses
SELECT name, version, status, checkpoint, tables, updated_at
FROM factum_projections
WHERE ?1 IS NULL OR name = ?1
ORDER BY name, version

-- name: retire_live
UPDATE factum_projections SET status = 'retired' WHERE name = ?1 AND status = 'live'

-- name: promote
UPDATE factum_projections SET status = 'live' WHERE name = ?1 AND version = ?2

-- name: delete_letters_of_version
DELETE FROM factum_dead_letters WHERE projection = ?1 AND version = ?2

-- name: delete_changes_of_version
DELETE FROM factum_read_model_changes WHERE projection = ?1 AND version = ?2

-- name: delete_projection
DELETE FROM factum_projections WHERE name = ?1 AND version = ?2

-- name: take_lease
-- Takes the lease on a projection version for ?3 until ?4, if it is free, already ?3's,
-- or expired (?5 is now).
UPDATE factum_projections SET lease_owner = ?3, lease_expires_at = ?4
WHERE name = ?1 AND version = ?2
  AND (lease_owner IS NULL OR lease_owner = ?3 OR lease_expires_at < ?5)

-- name: renew_lease
-- Extends ?3's lease to ?4; changes nothing if the lease has passed to another owner.
UPDATE factum_projections SET lease_expires_at = ?4
WHERE name = ?1 AND version = ?2 AND lease_owner = ?3

-- name: release_lease
UPDATE factum_projections SET lease_owner = NULL, lease_expires_at = NULL
WHERE name = ?1 AND version = ?2 AND lease_owner = ?3

-- name: owned_by_store
-- Whether this database is a store's own, whose migrations keep the projection tables.
SELECT (SELECT count(*) FROM sqlite_master
        WHERE type = 'table' AND name IN ('factum_projections', 'factum_migrations')) = 2
