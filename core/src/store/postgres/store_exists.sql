-- Whether the schema ($1) holds a Factum event store (its journal table). From the
-- catalog, which lists every table whatever the role's privileges on it
-- (information_schema.tables lists only those the role has some privilege on): a role
-- that may not read the table is told so by the read that follows, not that there is
-- no store.
SELECT EXISTS (
    SELECT 1
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = 'events' AND c.relkind IN ('r', 'p')
)
