-- The settled head: the committed head, but below the first position a still-open
-- transaction could take (its id is at least the snapshot's xmin; see read_all.sql).
SELECT LEAST(
    (SELECT coalesce(max(position), 0) FROM events),
    (SELECT ((pg_snapshot_xmin(pg_current_snapshot())::text::bigint + value) << 20) - 1
     FROM position_base)
)
