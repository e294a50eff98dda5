//! Read-model rows on PostgreSQL: each field bound as the text its column casts from,
//! rows read back with `row_to_json`, and the batch statements over many keys as text
//! arrays (`unnest` for upserts, `= ANY` for loads and deletes).

use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, PgConnection};

use crate::projection::database::Result;
use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};
use crate::projection::tx::{key_column, micros_of, row_error};
use crate::store::ddl::quote_ident;
use crate::store::read_side::on_conflict;

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

/// The key predicate of a statement over `keys` (`$1`: a text array cast to the key's
/// type), and that array.
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

/// The stored rows of `keys`, as JSON objects of their fields.
pub(super) async fn load(
    conn: &mut PgConnection,
    model: &'static ReadModelDescriptor,
    version: u32,
    keys: &[Value],
) -> Result<Vec<Value>> {
    let table = quote_ident(&model.table_for(version));
    let (predicate, keys) = keys_in(model, keys)?;
    let sql = format!("SELECT row_to_json(t)::text FROM {table} t WHERE {predicate}");
    let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(keys)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|text| serde_json::from_str(text).map_err(|e| row_error(model, e)))
        .collect()
}

/// Inserts or replaces `rows` (field maps) with one statement: one text array per
/// column, unnested together.
pub(super) async fn upsert(
    conn: &mut PgConnection,
    model: &'static ReadModelDescriptor,
    version: u32,
    rows: &[Map<String, Value>],
) -> Result<()> {
    let table = quote_ident(&model.table_for(version));
    let names: Vec<String> = model.columns.iter().map(|c| quote_ident(c.name)).collect();
    let arrays: Vec<String> = (1..=names.len()).map(|i| format!("${i}::text[]")).collect();
    let picks: Vec<String> = model
        .columns
        .iter()
        .map(|c| format!("u.{}::{}", quote_ident(c.name), c.ty.postgres()))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({names}) SELECT {} FROM unnest({}) AS u ({names}) {}",
        picks.join(", "),
        arrays.join(", "),
        on_conflict(model)?,
        names = names.join(", "),
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

/// Deletes the rows of `keys` with one statement.
pub(super) async fn delete(
    conn: &mut PgConnection,
    model: &'static ReadModelDescriptor,
    version: u32,
    keys: &[Value],
) -> Result<()> {
    let table = quote_ident(&model.table_for(version));
    let (predicate, keys) = keys_in(model, keys)?;
    let sql = format!("DELETE FROM {table} WHERE {predicate}");
    sqlx::query(AssertSqlSafe(sql))
        .bind(keys)
        .execute(conn)
        .await?;
    Ok(())
}
