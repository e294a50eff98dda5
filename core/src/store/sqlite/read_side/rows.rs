//! Read-model rows on SQLite: how a field's JSON value is stored in its column and read
//! back, and the batch statements over many keys (a JSON array read by `json_each`).

use serde_json::{Map, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection};

use crate::projection::database::Result;
use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};
use crate::projection::tx::{key_column, micros_of, row_error};
use crate::store::sql::ddl::quote_ident;
use crate::store::sql::read_side::{RowSql, Table, on_conflict};

/// A value ready to bind on SQLite.
enum SqliteValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// Converts a field's JSON value to what its column stores on SQLite.
fn to_sqlite(model: &ReadModelDescriptor, col: &Column, value: &Value) -> Result<SqliteValue> {
    let bad = |what: &str| {
        row_error(
            model,
            format!("field {} is {value} where {what} was expected", col.name),
        )
    };
    Ok(match (col.ty, value) {
        (_, Value::Null) => SqliteValue::Null,
        (ColumnType::Integer, v) => {
            SqliteValue::Int(v.as_i64().ok_or_else(|| bad("an integer within i64"))?)
        }
        (ColumnType::Real, v) => SqliteValue::Real(v.as_f64().ok_or_else(|| bad("a number"))?),
        (ColumnType::Boolean, v) => {
            SqliteValue::Int(v.as_bool().ok_or_else(|| bad("a boolean"))? as i64)
        }
        (ColumnType::Timestamp, Value::String(s)) => {
            SqliteValue::Int(micros_of(s).ok_or_else(|| bad("an RFC 3339 time"))?)
        }
        (ColumnType::Text | ColumnType::Uuid, Value::String(s)) => SqliteValue::Text(s.clone()),
        (ColumnType::Json, v) => SqliteValue::Text(v.to_string()),
        (ColumnType::Timestamp, _) => return Err(bad("an RFC 3339 time")),
        (ColumnType::Text | ColumnType::Uuid, _) => return Err(bad("a string")),
    })
}

/// Reads column `i` of a SQLite row back into the JSON serde expects.
fn from_sqlite(
    model: &ReadModelDescriptor,
    col: &Column,
    row: &SqliteRow,
    i: usize,
) -> Result<Value> {
    let corrupt = |e: &dyn std::fmt::Display| row_error(model, format!("column {}: {e}", col.name));
    Ok(match col.ty {
        ColumnType::Integer => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, Value::from),
        ColumnType::Real => row
            .try_get::<Option<f64>, _>(i)?
            .map_or(Value::Null, Value::from),
        ColumnType::Boolean => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, |b| Value::Bool(b != 0)),
        ColumnType::Timestamp => match row.try_get::<Option<i64>, _>(i)? {
            None => Value::Null,
            Some(micros) => {
                let at = chrono::DateTime::from_timestamp_micros(micros)
                    .ok_or_else(|| corrupt(&format!("{micros} is not a time")))?;
                Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
        },
        ColumnType::Text | ColumnType::Uuid => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null, Value::String),
        ColumnType::Json => match row.try_get::<Option<&str>, _>(i)? {
            None => Value::Null,
            Some(text) => serde_json::from_str(text).map_err(|e| corrupt(&e))?,
        },
    })
}

/// A SQLite value as the JSON `json_each` hands back as that value.
fn sqlite_json(value: SqliteValue) -> Value {
    match value {
        SqliteValue::Null => Value::Null,
        SqliteValue::Int(i) => Value::from(i),
        SqliteValue::Real(r) => Value::from(r),
        SqliteValue::Text(t) => Value::String(t),
    }
}

/// A row's fields as SQLite stores them, in column order, as the JSON `json_extract`
/// hands back as those values.
pub(super) fn stored_values(
    model: &ReadModelDescriptor,
    fields: &Map<String, Value>,
) -> Result<Vec<Value>> {
    let null = Value::Null;
    model
        .columns
        .iter()
        .map(|col| {
            let v = fields.get(col.name).unwrap_or(&null);
            Ok(sqlite_json(to_sqlite(model, col, v)?))
        })
        .collect()
}

impl RowSql for Sqlite {
    /// A JSON array of the keys as stored, read by `json_each`.
    type Keys = String;

    fn keys_in(model: &'static ReadModelDescriptor, keys: &[Value]) -> Result<(String, String)> {
        let key_col = key_column(model)?;
        let keys = keys
            .iter()
            .map(|k| Ok(sqlite_json(to_sqlite(model, key_col, k)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok((
            format!(
                "{} IN (SELECT value FROM json_each(?1))",
                quote_ident(key_col.name)
            ),
            Value::Array(keys).to_string(),
        ))
    }

    fn row_select(table: &Table) -> String {
        table.columns.join(", ")
    }

    fn decode_row(table: &Table, row: &SqliteRow) -> Result<Value> {
        let model = table.model;
        let mut map = Map::new();
        for (i, col) in model.columns.iter().enumerate() {
            map.insert(col.name.to_owned(), from_sqlite(model, col, row, i)?);
        }
        Ok(Value::Object(map))
    }

    /// One statement over a JSON array of rows, each an array of its values in column
    /// order.
    async fn upsert_rows(
        conn: &mut SqliteConnection,
        table: &Table,
        rows: &[Map<String, Value>],
    ) -> Result<()> {
        let model = table.model;
        let picks: Vec<String> = (0..table.columns.len())
            .map(|i| format!("json_extract(value, '$[{i}]')"))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM json_each(?1) WHERE true {}",
            table.name,
            table.columns.join(", "),
            picks.join(", "),
            on_conflict(model)?,
        );
        let array = rows
            .iter()
            .map(|row| stored_values(model, row).map(Value::Array))
            .collect::<Result<Vec<_>>>()?;
        sqlx::query(AssertSqlSafe(sql))
            .bind(Value::Array(array).to_string())
            .execute(conn)
            .await?;
        Ok(())
    }
}
