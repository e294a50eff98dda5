UPDATE factum_projections SET lease_owner = NULL, lease_expires_at = NULL
WHERE name = ?1 AND version = ?2 AND lease_owner = ?3
