-- Claims the values of ?1 (a JSON array of [scope, value] pairs) for stream ?2; a value
-- it holds already stays as it is (`unique_taken.sql` ran first, in the same write
-- transaction). `WHERE true` lets SQLite parse the upsert after a SELECT.
INSERT INTO factum_unique_values (scope, value, stream_id, claimed_at)
SELECT c.value ->> 0, c.value ->> 1, ?2, ?3 FROM json_each(?1) c WHERE true
ON CONFLICT (scope, value) DO NOTHING
