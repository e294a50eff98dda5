UPDATE position_base SET value = greatest(value, $1)
