-- The change feed of read models that record their changes (`#[read_model(changes)]`,
-- see factum::projection::changes): each row a batch upserted or deleted, written in the
-- batch's transaction. `row` is the row the change left (for a deletion, the row
-- deleted), as `jsonb_populate_record` reads it back into the table's row type.
CREATE TABLE read_model_changes (
    seq           bigserial   PRIMARY KEY,
    projection    text        COLLATE "C" NOT NULL,
    version       integer     NOT NULL,
    model         text        COLLATE "C" NOT NULL,
    -- 'upsert' or 'delete'
    op            text        NOT NULL,
    row           jsonb       NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX read_model_changes_by_model
    ON read_model_changes (projection, version, model, seq);
