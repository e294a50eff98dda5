-- The change feed of read models declared with `changes`. Each statement follows its
-- `-- name:` line.

-- name: record_changes
-- $4 is a JSON array of [op, row] pairs, rows as their fields, recorded in array order;
-- $5: when.
INSERT INTO read_model_changes (projection, version, model, op, row, committed_at)
SELECT $1, $2, $3, u.change ->> 0, u.change -> 1, $5
FROM jsonb_array_elements($4::text::jsonb) WITH ORDINALITY AS u (change, n)
ORDER BY u.n

-- name: trim_changes
-- Keeps the newest $4 changes of a read model and projection version.
DELETE FROM read_model_changes
WHERE projection = $1 AND version = $2 AND model = $3
  AND seq <= (SELECT max(seq) FROM read_model_changes
              WHERE projection = $1 AND version = $2 AND model = $3) - $4
