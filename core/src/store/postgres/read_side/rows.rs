//! Read-model rows on PostgreSQL: each field bound as the text its column casts from,
//! rows read back with `row_to_json`, and the batch statements over many keys as text
//! arrays (`unnest` for upserts, `= ANY` for loads and deletes).

use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Row};

use crate::projection::database::Result;
use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};
use crate::projection::tx::{key_column, micros_of, row_error};
use crate::store::sql::ddl::quote_ident;
use crate::store::sql::read_side::{RowSql, Table, on_conflict};

/// The text PostgreSQL casts to the column's type (`$n::bigint` and so on).
fn to_postgres(model: &ReadModelDescriptor, col: &Column, value: &Value) -> Result<Option<String>> {
    Ok(match (col.ty, value) {
        (_, Value::Null) => None,
        (ColumnType::Json, v) => Some(v.to_string()),
        // Stored to the microsecond, cut as on SQLite (PostgreSQL would round), so that
        // a key finds its row whatever finer digits it carried.
        (ColumnType::Timestamp, Value::String(s)) => Some(match micros_of(s) {
            Some(micros) => chrono::DateTime::from_timestamp_micros(micros)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            None => s.clone(),
        }),
        (_, Value::String(s)) => Some(s.clone()),
        (ColumnType::Integer | ColumnType::Real, Value::Number(n)) => Some(n.to_string()),
        (ColumnType::Boolean, Value::Bool(b)) => Some(b.to_string()),
        (_, v) => {
            return Err(row_error(
                model,
                format!(
                    "field {} is {v}, which a {} column cannot hold",
                    col.name,
                    col.ty.postgres()
                ),
            ));
        }
    })
}

impl RowSql for Postgres {
    /// A text array, cast to the key's type.
    type Keys = Vec<Option<String>>;

    fn keys_in(
        model: &'static ReadModelDescriptor,
        keys: &[Value],
    ) -> Result<(String, Vec<Option<String>>)> {
        let key_col = key_column(model)?;
        let keys = keys
            .iter()
            .map(|k| to_postgres(model, key_col, k))
            .collect::<Result<Vec<_>>>()?;
        Ok((
            format!(
                "{} = ANY($1::text[]::{}[])",
                quote_ident(key_col.name),
                key_col.ty.postgres()
            ),
            keys,
        ))
    }

    /// The row as JSON text.
    fn row_select(_: &Table) -> String {
        "row_to_json(t)::text".to_owned()
    }

    fn decode_row(table: &Table, row: &PgRow) -> Result<Value> {
        let text: &str = row.try_get(0)?;
        serde_json::from_str(text).map_err(|e| row_error(table.model, e))
    }

    /// One statement over one text array per column, unnested together.
    async fn upsert_rows(
        conn: &mut PgConnection,
        table: &Table,
        rows: &[Map<String, Value>],
    ) -> Result<()> {
        let model = table.model;
        let names = table.columns.join(", ");
        let arrays: Vec<String> = (1..=table.columns.len())
            .map(|i| format!("${i}::text[]"))
            .collect();
        let picks: Vec<String> = model
            .columns
            .iter()
            .map(|c| format!("u.{}::{}", quote_ident(c.name), c.ty.postgres()))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({names}) SELECT {} FROM unnest({}) AS u ({names}) {}",
            table.name,
            picks.join(", "),
            arrays.join(", "),
            on_conflict(model)?,
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        let null = Value::Null;
        for col in model.columns {
            let column = rows
                .iter()
                .map(|row| to_postgres(model, col, row.get(col.name).unwrap_or(&null)))
                .collect::<Result<Vec<Option<String>>>>()?;
            query = query.bind(column);
        }
        query.execute(conn).await?;
        Ok(())
    }
}
