SELECT coalesce(max(position), 0) FROM factum_events
