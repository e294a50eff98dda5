-- The first of the claimed values (?1: a JSON array of [scope, value] pairs) that a
-- stream other than ?2 holds.
SELECT u.scope, u.value, u.stream_id
FROM json_each(?1) c
JOIN factum_unique_values u ON u.scope = c.value ->> 0 AND u.value = c.value ->> 1
WHERE u.stream_id <> ?2
LIMIT 1
