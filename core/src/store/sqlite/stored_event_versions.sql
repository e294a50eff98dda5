-- The store's inventory: how many events each type has at each schema version (the
-- first position names a row to blame if one does not decode).
SELECT event_type, schema_version, count(*), min(position)
FROM factum_events
GROUP BY event_type, schema_version
ORDER BY event_type, schema_version
