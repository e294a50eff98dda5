//! The transaction a batch of events is projected in, with typed access to the
//! projection's read-model tables.

use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;
#[cfg(feature = "sqlite")]
use sqlx::Row;

use super::ProjectionError;
use crate::read_model::{Column, ColumnType, KeyOf, ReadModel, ReadModelDescriptor};

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// One batch's database transaction: the handlers' read-model writes and the
/// projection's checkpoint commit together or not at all.
///
/// [`get`](Self::get), [`put`](Self::put) and [`delete`](Self::delete) work on the
/// projection version's own tables on either backend. For anything else, run SQL on
/// [`sqlite`](Self::sqlite) or [`postgres`](Self::postgres) against
/// [`table`](Self::table)`::<M>()`.
pub struct ProjectionTx {
    pub(super) conn: Conn,
    version: u32,
}

pub(super) enum Conn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl std::fmt::Debug for ProjectionTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => "postgres",
        };
        f.debug_struct("ProjectionTx")
            .field("backend", &backend)
            .field("version", &self.version)
            .finish()
    }
}

/// Quotes an identifier (names come from derive-checked descriptors: `[a-z0-9_]`).
pub(super) use crate::read_model::quote_ident as ident;

fn row_error(model: &ReadModelDescriptor, reason: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::Row {
        model: model.name,
        reason: reason.to_string(),
    }
}

fn key_column(model: &'static ReadModelDescriptor) -> Result<&'static Column> {
    model
        .key_column()
        .ok_or_else(|| row_error(model, format!("key column {:?} is not a column", model.key)))
}

/// A value ready to bind on SQLite.
#[cfg(feature = "sqlite")]
enum SqliteValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// Converts a field's JSON value to what its column stores on SQLite.
#[cfg(feature = "sqlite")]
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
        (ColumnType::Timestamp, Value::String(s)) => SqliteValue::Int(
            s.parse::<chrono::DateTime<chrono::Utc>>()
                .map_err(|_| bad("an RFC 3339 time"))?
                .timestamp_micros(),
        ),
        (ColumnType::Text | ColumnType::Uuid, Value::String(s)) => SqliteValue::Text(s.clone()),
        (ColumnType::Json, v) => SqliteValue::Text(v.to_string()),
        (ColumnType::Timestamp, _) => return Err(bad("an RFC 3339 time")),
        (ColumnType::Text | ColumnType::Uuid, _) => return Err(bad("a string")),
    })
}

/// Reads column `i` of a SQLite row back into the JSON serde expects.
#[cfg(feature = "sqlite")]
fn from_sqlite(
    model: &ReadModelDescriptor,
    col: &Column,
    row: &sqlx::sqlite::SqliteRow,
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

/// The text PostgreSQL casts to the column's type (`$n::bigint` and so on).
#[cfg(feature = "postgres")]
fn to_postgres(model: &ReadModelDescriptor, col: &Column, value: &Value) -> Result<Option<String>> {
    Ok(match (col.ty, value) {
        (_, Value::Null) => None,
        (ColumnType::Json, v) => Some(v.to_string()),
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

fn fields(model: &ReadModelDescriptor, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(row_error(
            model,
            format!("serialises to {other}, not to an object of fields"),
        )),
    }
}

impl ProjectionTx {
    pub(super) fn new(conn: Conn, version: u32) -> Self {
        ProjectionTx { conn, version }
    }

    /// The projection version whose tables this transaction writes.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The table `M` is stored in for this projection version (`balances_v2`), for SQL
    /// of your own.
    pub fn table<M: ReadModel>(&self) -> String {
        M::descriptor().table_for(self.version)
    }

    /// The SQLite connection inside the transaction, if the store is SQLite.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        match &mut self.conn {
            Conn::Sqlite(tx) => Some(&mut **tx),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => None,
        }
    }

    /// The PostgreSQL connection inside the transaction, if the store is PostgreSQL.
    #[cfg(feature = "postgres")]
    pub fn postgres(&mut self) -> Option<&mut sqlx::PgConnection> {
        match &mut self.conn {
            Conn::Postgres(tx) => Some(&mut **tx),
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => None,
        }
    }

    /// The row of `M` with this key, if there is one.
    pub async fn get<M, K>(&mut self, key: &K) -> Result<Option<M>>
    where
        M: ReadModel,
        K: KeyOf<M> + ?Sized,
    {
        let model = M::descriptor();
        let key = serde_json::to_value(key).map_err(|e| row_error(model, e))?;
        let table = ident(&model.table_for(self.version));
        let key_col = key_column(model)?;
        let fields = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => {
                let columns: Vec<String> = model.columns.iter().map(|c| ident(c.name)).collect();
                let sql = format!(
                    "SELECT {} FROM {table} WHERE {} = ?1",
                    columns.join(", "),
                    ident(key_col.name)
                );
                let query = bind_sqlite(
                    sqlx::query(AssertSqlSafe(sql)),
                    to_sqlite(model, key_col, &key)?,
                );
                let Some(row) = query.fetch_optional(&mut **tx).await? else {
                    return Ok(None);
                };
                let mut map = Map::new();
                for (i, col) in model.columns.iter().enumerate() {
                    map.insert(col.name.to_owned(), from_sqlite(model, col, &row, i)?);
                }
                Value::Object(map)
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => {
                let sql = format!(
                    "SELECT row_to_json(t)::text FROM {table} t WHERE {} = $1::{}",
                    ident(key_col.name),
                    key_col.ty.postgres()
                );
                let row: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
                    .bind(to_postgres(model, key_col, &key)?)
                    .fetch_optional(&mut **tx)
                    .await?;
                let Some(text) = row else { return Ok(None) };
                serde_json::from_str(&text).map_err(|e| row_error(model, e))?
            }
        };
        serde_json::from_value(fields)
            .map(Some)
            .map_err(|e| row_error(model, format!("stored row does not decode: {e}")))
    }

    /// Inserts the row, or replaces the row with the same key.
    pub async fn put<M: ReadModel>(&mut self, row: &M) -> Result<()> {
        let model = M::descriptor();
        let value = fields(
            model,
            serde_json::to_value(row).map_err(|e| row_error(model, e))?,
        )?;
        let table = ident(&model.table_for(self.version));
        let key = ident(key_column(model)?.name);
        let names: Vec<String> = model.columns.iter().map(|c| ident(c.name)).collect();
        let updates: Vec<String> = names
            .iter()
            .filter(|n| **n != key)
            .map(|n| format!("{n} = excluded.{n}"))
            .collect();
        let conflict = if updates.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        let null = Value::Null;
        match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => {
                let params: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key}) {conflict}",
                    names.join(", "),
                    params.join(", ")
                );
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for col in model.columns {
                    let v = value.get(col.name).unwrap_or(&null);
                    query = bind_sqlite(query, to_sqlite(model, col, v)?);
                }
                query.execute(&mut **tx).await?;
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => {
                let params: Vec<String> = model
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("${}::{}", i + 1, c.ty.postgres()))
                    .collect();
                let sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key}) {conflict}",
                    names.join(", "),
                    params.join(", ")
                );
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for col in model.columns {
                    let v = value.get(col.name).unwrap_or(&null);
                    query = query.bind(to_postgres(model, col, v)?);
                }
                query.execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// Deletes the row with this key; `true` if there was one.
    pub async fn delete<M, K>(&mut self, key: &K) -> Result<bool>
    where
        M: ReadModel,
        K: KeyOf<M> + ?Sized,
    {
        let model = M::descriptor();
        let key = serde_json::to_value(key).map_err(|e| row_error(model, e))?;
        let table = ident(&model.table_for(self.version));
        let key_col = key_column(model)?;
        let done = match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => {
                let sql = format!("DELETE FROM {table} WHERE {} = ?1", ident(key_col.name));
                bind_sqlite(
                    sqlx::query(AssertSqlSafe(sql)),
                    to_sqlite(model, key_col, &key)?,
                )
                .execute(&mut **tx)
                .await?
                .rows_affected()
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => {
                let sql = format!(
                    "DELETE FROM {table} WHERE {} = $1::{}",
                    ident(key_col.name),
                    key_col.ty.postgres()
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(to_postgres(model, key_col, &key)?)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
            }
        };
        Ok(done > 0)
    }

    /// Runs a statement without parameters (savepoints, DDL) on either backend.
    pub(super) async fn execute(&mut self, sql: String) -> Result<()> {
        match &mut self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **tx).await?;
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// Commits the batch.
    pub(super) async fn commit(self) -> Result<()> {
        match self.conn {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(tx) => tx.commit().await?,
            #[cfg(feature = "postgres")]
            Conn::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

#[cfg(feature = "sqlite")]
fn bind_sqlite<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    value: SqliteValue,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    match value {
        SqliteValue::Null => query.bind(None::<String>),
        SqliteValue::Int(i) => query.bind(i),
        SqliteValue::Real(r) => query.bind(r),
        SqliteValue::Text(t) => query.bind(t),
    }
}
