-- The settled head: the committed head, but below the first position a transaction
-- appending to this store could still commit (the visible bound, visible_bound.sql, which
-- this statement starts with; $1 = 0).
SELECT LEAST(
    (SELECT coalesce(max(position), 0) FROM events),
    (SELECT position FROM bound) - 1
)
