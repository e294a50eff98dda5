-- Projection rows: one per projection version, with its checkpoint and its tables. Leases
-- are session advisory locks, not rows. Each statement follows its `-- name:` line.

-- name: lock_registrations
-- Registrations queue so that one version of a name goes live and one projection owns a
-- table.
SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':projections'), 0)

-- name: tables_of_others
SELECT name, tables FROM projections WHERE name <> $1

-- name: register_projection
-- The first version of a name goes live at once; later ones build beside it.
INSERT INTO projections (name, version, status, created_at, updated_at, tables)
SELECT $1, $2,
       CASE WHEN EXISTS (SELECT 1 FROM projections WHERE name = $1 AND status = 'live')
            THEN 'building' ELSE 'live' END,
       $3, $3, $4
ON CONFLICT (name, version) DO NOTHING

-- name: checkpoint
SELECT checkpoint FROM projections WHERE name = $1 AND version = $2

-- name: lock_checkpoint
SELECT checkpoint FROM projections WHERE name = $1 AND version = $2 FOR UPDATE

-- name: advance_checkpoint
-- Moves the checkpoint from $3 to $4 if it is still at $3. (The lease is a session lock
-- held on another connection, so there is no owner to check here.)
UPDATE projections SET checkpoint = $4, updated_at = $5
WHERE name = $1 AND version = $2 AND checkpoint = $3

-- name: statuses
SELECT name, version, status, checkpoint, tables, updated_at
FROM projections
WHERE $1::text IS NULL OR name = $1
ORDER BY name, version

-- name: retire_live
UPDATE projections SET status = 'retired' WHERE name = $1 AND status = 'live'

-- name: promote
UPDATE projections SET status = 'live' WHERE name = $1 AND version = $2

-- name: delete_letters_of_version
DELETE FROM dead_letters WHERE projection = $1 AND version = $2

-- name: delete_changes_of_version
DELETE FROM read_model_changes WHERE projection = $1 AND version = $2

-- name: delete_projection
DELETE FROM projections WHERE name = $1 AND version = $2

-- name: take_lease
-- A session advisory lock per projection version, in a key space of the schema's own:
-- it lasts while the runner holds the connection, and ends with it if the process dies.
SELECT pg_try_advisory_lock(hashtext(current_schema() || ':projections'),
                            hashtext($1 || ':' || $2::text))

-- name: owned_by_store
-- Whether this schema is a store's own, whose migrations keep the projection tables.
SELECT to_regclass('projections') IS NOT NULL AND to_regclass('factum_migrations') IS NOT NULL
