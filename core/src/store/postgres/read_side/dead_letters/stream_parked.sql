SELECT EXISTS (
    SELECT 1 FROM dead_letters
    WHERE projection = $1 AND version = $2 AND stream_id = $3 AND status = 'parked'
)
