INSERT INTO delivered (consumer, event_id, delivered_at) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
