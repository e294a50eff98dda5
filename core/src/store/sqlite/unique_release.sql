-- Releases the values of ?1 (a JSON array of [scope, value] pairs) that stream ?2 holds;
-- values it does not hold are left alone.
DELETE FROM factum_unique_values
WHERE stream_id = ?2
  AND (scope, value) IN (SELECT c.value ->> 0, c.value ->> 1 FROM json_each(?1) c)
