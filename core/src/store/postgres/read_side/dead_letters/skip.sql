UPDATE dead_letters SET status = 'skipped', skip_reason = $4
WHERE projection = $1 AND version = $2 AND position = $3
