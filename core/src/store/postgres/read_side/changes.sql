-- The change feed of read models declared with `changes`. Each statement follows its
-- `-- name:` line.

-- name: record_changes
-- $4 and $5: the operations and the rows (JSON text), recorded in array order; $6: when.
INSERT INTO read_model_changes (projection, version, model, op, row, committed_at)
SELECT $1, $2, $3, u.op, u.row::jsonb, $6
FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS u (op, row, n)
ORDER BY u.n

-- name: trim_changes
-- Keeps the newest $4 changes of a read model and projection version.
DELETE FROM read_model_changes
WHERE projection = $1 AND version = $2 AND model = $3
  AND seq <= (SELECT max(seq) FROM read_model_changes
              WHERE projection = $1 AND version = $2 AND model = $3) - $4
