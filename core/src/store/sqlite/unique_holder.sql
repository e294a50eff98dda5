SELECT stream_id FROM factum_unique_values WHERE scope = ?1 AND value = ?2
