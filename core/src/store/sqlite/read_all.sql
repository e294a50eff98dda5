-- One page of the global log as a single JSON array of rows (see `read_stream_forward.sql`
-- and `decode_page` for why it is built this way). Rust sorts the page.
SELECT '[' || coalesce(group_concat(
           format('[%d,"%s","%s",%d,"%s",%d,%s,%s,%d]', position, hex(event_id), stream_id,
                  stream_version, event_type, schema_version, payload,
                  coalesce(metadata, 'null'), recorded_at),
           ','), '') || ']',
       count(*), max(position), min(position),
       (SELECT coalesce(max(position), 0) FROM factum_events)
FROM (
    SELECT *
    FROM factum_events
    WHERE position >= ?1
      AND (?2 IS NULL OR event_type IN (SELECT value FROM json_each(?2)))
      AND (?3 IS NULL OR category IN (SELECT value FROM json_each(?3)))
    ORDER BY position
    LIMIT ?4
)
