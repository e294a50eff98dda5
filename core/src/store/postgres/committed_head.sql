-- The last committed position, safe or not yet (an older transaction may be in flight).
SELECT coalesce(max(position), 0) FROM events
