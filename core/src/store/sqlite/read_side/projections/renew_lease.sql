-- Extends ?3's lease to ?4; changes nothing if the lease has passed to another owner.
UPDATE factum_projections SET lease_expires_at = ?4
WHERE name = ?1 AND version = ?2 AND lease_owner = ?3
