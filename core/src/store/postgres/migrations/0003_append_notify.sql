-- Wake subscribers after appends: one notification per appending statement, delivered
-- when its transaction commits, on the channel `factum_appends` with the schema as the
-- payload (listeners of other schemas in the same database ignore it). Every writer
-- raises it, whatever client it uses.
CREATE FUNCTION notify_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('factum_appends', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_appended
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_appended();
