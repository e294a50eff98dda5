-- A projection version's entries, by stream and version; $3: only this stream's (if not
-- NULL); $4: only parked ones. Times are timestamptz.
SELECT position, stream_id, stream_version, event_id, event_type, status, reason, attempts,
       parked_at, last_attempt_at, skip_reason, error_kind
FROM dead_letters
WHERE projection = $1 AND version = $2
  AND ($3::text IS NULL OR stream_id = $3) AND (NOT $4 OR status = 'parked')
ORDER BY stream_id, stream_version
