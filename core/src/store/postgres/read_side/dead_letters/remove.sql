DELETE FROM dead_letters WHERE projection = $1 AND version = $2 AND position = $3
