-- The last position a reader can safely see (see read_all.sql).
SELECT coalesce(max(position), 0) FROM events
WHERE position < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)
