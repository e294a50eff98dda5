-- One page of a stream as a single JSON array of rows (see `decode_page` for why; a fold
-- reads a shorter form of it, see `pages::VIEW_EDITS`). The
-- text is assembled by `format`, not by SQLite's JSON functions, which would parse
-- every payload again: payloads and metadata were validated as JSON on append, and event
-- types and stream ids only hold characters that need no escaping. Rust sorts the page.
-- The count and the bounds let the next page's query start before this one is decoded;
-- the last column answers, for an empty first page, whether that is an error.
SELECT '[' || coalesce(group_concat(
           format('[%d,"%s",%d,"%s",%d,%s,%s,%d]', position, hex(event_id), stream_version,
                  event_type, schema_version, payload, coalesce(metadata, 'null'), recorded_at),
           ','), '') || ']',
       count(*), max(stream_version), min(stream_version),
       (SELECT deleted_at IS NOT NULL AND NOT ?2 FROM factum_streams WHERE stream_id = ?1)
FROM (
    SELECT e.*
    FROM factum_streams s
    JOIN factum_events e ON e.stream_id = s.stream_id
    WHERE s.stream_id = ?1
      AND (s.deleted_at IS NULL OR ?2)
      AND e.stream_version BETWEEN ?3 AND ?4
    ORDER BY e.stream_version ASC
    LIMIT ?5
)
