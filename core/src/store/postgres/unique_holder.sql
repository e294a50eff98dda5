SELECT stream_id FROM unique_values WHERE scope = $1 AND value = $2
