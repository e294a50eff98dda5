SELECT EXISTS (SELECT 1 FROM delivered WHERE consumer = $1 AND event_id = $2)
