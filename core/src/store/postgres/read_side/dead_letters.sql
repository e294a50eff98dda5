-- The dead-letter queue: one row per parked (or skipped) event of a projection version.
-- Each statement follows its `-- name:` line.

-- name: park_letter
-- Parks an event; a position already parked stays as it is.
INSERT INTO dead_letters (projection, version, position, stream_id, stream_version,
                          event_id, event_type, status, reason, attempts, parked_at,
                          last_attempt_at, error_kind)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'parked', $8, $9, $10, $10, $11)
ON CONFLICT DO NOTHING

-- name: stream_parked
SELECT EXISTS (
    SELECT 1 FROM dead_letters
    WHERE projection = $1 AND version = $2 AND stream_id = $3 AND status = 'parked'
)

-- name: remove_letter
DELETE FROM dead_letters WHERE projection = $1 AND version = $2 AND position = $3

-- name: skip_letter
UPDATE dead_letters SET status = 'skipped', skip_reason = $4
WHERE projection = $1 AND version = $2 AND position = $3

-- name: record_letter_failure
UPDATE dead_letters SET attempts = attempts + 1, reason = $4, last_attempt_at = $5
WHERE projection = $1 AND version = $2 AND position = $3

-- name: list_letters
-- A projection version's entries, by stream and version; $3: only this stream's (if not
-- NULL); $4: only parked ones. Times are timestamptz.
SELECT position, stream_id, stream_version, event_id, event_type, status, reason, attempts,
       parked_at, last_attempt_at, skip_reason, error_kind
FROM dead_letters
WHERE projection = $1 AND version = $2
  AND ($3::text IS NULL OR stream_id = $3) AND (NOT $4 OR status = 'parked')
ORDER BY stream_id, stream_version
