-- A session advisory lock per projection version, in a key space of the schema's own:
-- it lasts while the runner holds the connection, and ends with it if the process dies.
SELECT pg_try_advisory_lock(hashtext(current_schema() || ':projections'),
                            hashtext($1 || ':' || $2::text))
