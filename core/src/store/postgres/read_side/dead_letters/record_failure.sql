UPDATE dead_letters SET attempts = attempts + 1, reason = $4, last_attempt_at = $5
WHERE projection = $1 AND version = $2 AND position = $3
