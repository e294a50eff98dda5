-- After a global-log read came up short: are there committed events it should have
-- returned (matching its filters, up to the head it is reading to) that were not yet
-- safe to hand out because an older transaction was still in flight?
SELECT EXISTS (
    SELECT 1
    FROM events
    WHERE position >= $1
      AND position <= $2
      AND (cardinality($3::text[]) = 0 OR event_type = ANY($3))
      AND (cardinality($4::text[]) = 0 OR category = ANY($4))
)
