-- Whether stored positions are ahead of what this cluster's next transaction id would
-- produce; if so, the base that puts new positions above them (with a margin).
SELECT CASE WHEN head >= next_id + base.value
            THEN head + 1 - next_id + 1000
       END
FROM position_base base,
     (SELECT coalesce(max(position), 0) >> 20 AS head FROM events) h,
     (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_id) n
