-- The stream's write lock, the one every append of the stream takes first (see
-- append_any.sql), held until the transaction ends.
SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext($1))
