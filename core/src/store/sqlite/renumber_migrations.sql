-- Stores created before migrations were numbered alike on every backend recorded
-- projections as 3, unique values as 4, dead-letter kinds as 5 and read-model changes as
-- 6. Each row moves to its new number only if it is the old one (its description says
-- so), highest first so that no number is taken twice; on a store numbered the new way
-- nothing matches. Migrations 3 and 5, which do nothing on SQLite, then run as new.
UPDATE factum_migrations SET version = 8 WHERE version = 6 AND description = 'read-model changes';
UPDATE factum_migrations SET version = 7 WHERE version = 5 AND description = 'dead-letter kinds';
UPDATE factum_migrations SET version = 6 WHERE version = 4 AND description = 'unique values';
UPDATE factum_migrations SET version = 4 WHERE version = 3 AND description = 'projections';
