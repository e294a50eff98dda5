-- Whether the store's migrations were recorded here before.
SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'factum_migrations')
