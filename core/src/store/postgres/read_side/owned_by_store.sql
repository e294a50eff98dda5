-- Whether this schema is a store's own, whose migrations keep the projection tables.
SELECT to_regclass('projections') IS NOT NULL AND to_regclass('factum_migrations') IS NOT NULL
