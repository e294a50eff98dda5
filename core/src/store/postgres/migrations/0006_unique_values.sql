-- Values unique across streams: one row per claimed value, naming the stream that holds
-- it. Written by the append statement that claims or releases it.
CREATE TABLE unique_values (
    scope       text        COLLATE "C" NOT NULL,
    value       text        COLLATE "C" NOT NULL,
    stream_id   text        COLLATE "C" NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, value)
);

-- What an append statement checks and writes after its stream passed the expected-version
-- check and before its events are inserted (`append_*_full.sql`). It raises, which aborts
-- the whole statement so nothing of the append is written:
--   FX001 when a claimed value is held by another stream (DETAIL: [scope, value, holder]
--         as JSON);
--   FX002 when p_first (the first position the append would take) is not above the
--         stream's last event: a caller's transaction that got its id before another
--         transaction appended to the stream (only checked when p_check_order).
-- Claims are inserted in (scope, value) order, so two appends claiming the same values
-- lock them in the same order and cannot deadlock each other. An insert that meets a
-- claim of a transaction still in flight waits for it; each statement below takes a
-- fresh snapshot (READ COMMITTED), so the check after it sees that claim once committed.
CREATE FUNCTION before_append(
    p_stream text,
    p_first bigint,
    p_check_order boolean,
    p_claim_scopes text[],
    p_claim_values text[],
    p_release_scopes text[],
    p_release_values text[]
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    taken record;
    last_position bigint;
BEGIN
    IF p_check_order THEN
        SELECT position INTO last_position
        FROM events
        WHERE stream_id = p_stream
        ORDER BY stream_version DESC
        LIMIT 1;
        IF last_position >= p_first THEN
            RAISE EXCEPTION 'stream % was appended to after this transaction got its id', p_stream
                USING ERRCODE = 'FX002';
        END IF;
    END IF;
    IF cardinality(p_claim_scopes) > 0 THEN
        INSERT INTO unique_values (scope, value, stream_id)
        SELECT c.scope, c.value, p_stream
        FROM unnest(p_claim_scopes, p_claim_values) AS c (scope, value)
        ORDER BY c.scope, c.value
        ON CONFLICT (scope, value) DO NOTHING;
        SELECT u.scope, u.value, u.stream_id INTO taken
        FROM unique_values u
        JOIN unnest(p_claim_scopes, p_claim_values) AS c (scope, value)
          ON u.scope = c.scope AND u.value = c.value
        WHERE u.stream_id <> p_stream
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'unique value taken'
                USING ERRCODE = 'FX001',
                      DETAIL = json_build_array(taken.scope, taken.value, taken.stream_id)::text;
        END IF;
    END IF;
    IF cardinality(p_release_scopes) > 0 THEN
        DELETE FROM unique_values u
        USING unnest(p_release_scopes, p_release_values) AS r (scope, value)
        WHERE u.scope = r.scope AND u.value = r.value AND u.stream_id = p_stream;
    END IF;
    RETURN true;
END
$$;
