-- Whether this database is a store's own, whose migrations keep the projection tables.
SELECT (SELECT count(*) FROM sqlite_master
        WHERE type = 'table' AND name IN ('factum_projections', 'factum_migrations')) = 2
