-- Event ids delivered to sinks outside the database, per consumer (`projection::dedup`).
-- Each statement follows its `-- name:` line.

-- name: delivered
SELECT EXISTS (SELECT 1 FROM factum_delivered WHERE consumer = ?1 AND event_id = ?2)

-- name: record_delivered
INSERT INTO factum_delivered (consumer, event_id, delivered_at) VALUES (?1, ?2, ?3)
ON CONFLICT DO NOTHING
