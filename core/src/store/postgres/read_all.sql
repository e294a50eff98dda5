-- The global log, gap-free. Positions start with the writing transaction's id (plus the
-- schema's base, see position_base in the migrations), and a
-- transaction id below the snapshot's xmin belongs to a transaction that has finished.
-- Reading only below (xmin << 20) therefore never passes an event whose transaction may
-- still commit: whatever is returned has every lower position already visible.
-- The text conversions run on the page only, after the limit.
SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
       payload::text, metadata::text, recorded_at
FROM (
    SELECT *
    FROM events
    WHERE position >= $1
      AND position < (SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint + value) << 20
                      FROM position_base)
      AND (cardinality($2::text[]) = 0 OR event_type = ANY($2))
      AND (cardinality($3::text[]) = 0 OR category = ANY($3))
    ORDER BY position
    LIMIT $4
) page
ORDER BY position
