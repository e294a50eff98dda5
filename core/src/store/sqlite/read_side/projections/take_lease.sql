-- Takes the lease on a projection version for ?3 until ?4, if it is free, already ?3's,
-- or expired (?5 is now). Times are microseconds since the epoch.
UPDATE factum_projections SET lease_owner = ?3, lease_expires_at = ?4
WHERE name = ?1 AND version = ?2
  AND (lease_owner IS NULL OR lease_owner = ?3 OR lease_expires_at < ?5)
