-- After a global-log read came up short: the head it reads to ($2, or the committed head
-- when it has none yet), and whether there are committed events it should have returned
-- (matching its filters, up to that head) that were not yet safe to hand out because an
-- older transaction was still in flight. One round trip for both.
WITH head AS (
    SELECT coalesce($2, (SELECT coalesce(max(position), 0) FROM events)) AS position
)
SELECT head.position,
       EXISTS (
           SELECT 1
           FROM events
           WHERE position >= $1
             AND position <= head.position
             AND (cardinality($3::text[]) = 0 OR event_type = ANY($3))
             AND (cardinality($4::text[]) = 0 OR category = ANY($4))
       )
FROM head
