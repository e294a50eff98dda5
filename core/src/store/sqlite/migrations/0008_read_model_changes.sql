-- The change feed of read models that record their changes (`#[read_model(changes)]`,
-- see factum::projection::changes): each row a batch upserted or deleted, written in the
-- batch's transaction. `row` is a JSON object of the row the change left (for a
-- deletion, the row deleted) in the table's own representation (times as microseconds,
-- booleans as 0 and 1, JSON columns as text).
CREATE TABLE factum_read_model_changes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    projection    TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    model         TEXT    NOT NULL,
    -- 'upsert' or 'delete'
    op            TEXT    NOT NULL,
    row           TEXT    NOT NULL,
    committed_at  INTEGER NOT NULL
);

CREATE INDEX factum_read_model_changes_by_model
    ON factum_read_model_changes (projection, version, model, seq);
