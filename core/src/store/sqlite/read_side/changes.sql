-- The change feed of read models declared with `changes`. Each statement follows its
-- `-- name:` line.

-- name: record_changes
-- ?4 is a JSON array of [op, row] pairs, rows as the table holds them (times as
-- microseconds, booleans as 0 and 1, JSON as text), recorded in array order.
INSERT INTO factum_read_model_changes (projection, version, model, op, row, committed_at)
SELECT ?1, ?2, ?3, json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?5
FROM json_each(?4)
ORDER BY key

-- name: trim_changes
-- Keeps the newest ?4 changes of a read model and projection version.
DELETE FROM factum_read_model_changes
WHERE projection = ?1 AND version = ?2 AND model = ?3
  AND seq <= (SELECT max(seq) FROM factum_read_model_changes
              WHERE projection = ?1 AND version = ?2 AND model = ?3) - ?4
