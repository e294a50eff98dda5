//! Running the API's statements on the store's database and turning rows into GraphQL
//! values by column type.

use async_graphql::Value;
use sqlx::{AssertSqlSafe, Row};

use super::ApiError;
use super::connections::Connections;
use super::sql::{Bind, Statement, float_value, time_value};
use crate::projection::ProjectionDb;
use crate::projection::read_model::{ColumnType, Dialect, ReadModelDescriptor};

/// A read-model row: one value per column, in the descriptor's order.
pub(crate) type RowValues = Vec<Value>;

/// The database the API queries, through connections of its own.
pub(crate) enum QueryDb {
    #[cfg(feature = "sqlite")]
    Sqlite(Connections<sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(Connections<sqlx::Postgres>),
}

impl QueryDb {
    pub(crate) fn sql_dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            QueryDb::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            QueryDb::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl ProjectionDb {
    /// The database the API queries: a pool of its own (connected on first use, as many
    /// connections as the store reads with), whose connections the API keeps between
    /// queries (see [`Connections`]). On PostgreSQL its connections let the planner plan
    /// each query for its values: the store forces generic plans, which suit its fixed
    /// statements but not filters whose selectivity depends on what the client asks.
    pub(crate) fn for_queries(&self) -> QueryDb {
        match self {
            #[cfg(feature = "sqlite")]
            ProjectionDb::Sqlite { writer, reader } => {
                let options = reader.connect_options();
                if std::sync::Arc::ptr_eq(&options, &writer.connect_options()) {
                    // In memory: the one connection is the store's writer too.
                    return QueryDb::Sqlite(Connections::shared(reader.clone()));
                }
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(reader.options().get_max_connections())
                    .connect_lazy_with((*options).clone());
                QueryDb::Sqlite(Connections::kept(pool))
            }
            #[cfg(feature = "postgres")]
            ProjectionDb::Postgres { pool, .. } => {
                let options = (*pool.connect_options())
                    .clone()
                    .options([("plan_cache_mode", "auto")]);
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(pool.options().get_max_connections())
                    .connect_lazy_with(options);
                QueryDb::Postgres(Connections::kept(pool))
            }
        }
    }
}

/// Runs `$query`, a query of `$statement`'s SQL, with `$statement`'s values bound, on
/// one of `$connections`, fetching with `$fetch`.
macro_rules! run {
    ($connections:expr, $statement:expr, $query:expr, $fetch:ident) => {
        $connections
            .run(|mut connection| async move {
                let mut query = $query;
                for bind in &$statement.binds {
                    query = match bind {
                        Bind::Text(v) => query.bind(v.clone()),
                        Bind::Int(v) => query.bind(*v),
                        Bind::Real(v) => query.bind(*v),
                        Bind::Bool(v) => query.bind(*v),
                        Bind::Time(v) => query.bind(*v),
                        Bind::Uuid(v) => query.bind(*v),
                    };
                }
                let fetched = query.$fetch(&mut *connection).await;
                (connection, fetched)
            })
            .await
    };
}

/// The rows a statement selects (its select list is [`Builder::select_list`]).
///
/// [`Builder::select_list`]: super::sql::Builder::select_list
pub(crate) async fn rows(
    db: &QueryDb,
    model: &ReadModelDescriptor,
    statement: &Statement,
) -> Result<Vec<RowValues>, ApiError> {
    let sql = || AssertSqlSafe(statement.sql.clone());
    match db {
        #[cfg(feature = "sqlite")]
        QueryDb::Sqlite(connections) => {
            let rows = run!(connections, statement, sqlx::query(sql()), fetch_all)?;
            rows.iter().map(|row| sqlite_row(model, row)).collect()
        }
        #[cfg(feature = "postgres")]
        QueryDb::Postgres(connections) => {
            // Not prepared: PostgreSQL plans an unnamed statement with its parameters'
            // values. A prepared one soon runs on a generic plan, which guesses the
            // filter's selectivity and can pick a full scan and sort over the index.
            let query = || sqlx::query(sql()).persistent(false);
            let rows = run!(connections, statement, query(), fetch_all)?;
            rows.iter().map(|row| postgres_row(model, row)).collect()
        }
    }
}

/// The query plan of `statement`, as text (`EXPLAIN` on PostgreSQL, `EXPLAIN QUERY
/// PLAN` on SQLite), run the way [`rows`] runs it.
#[cfg(test)]
pub(crate) async fn explain(db: &QueryDb, statement: &Statement) -> Result<String, ApiError> {
    Ok(match db {
        #[cfg(feature = "sqlite")]
        QueryDb::Sqlite(connections) => {
            let sql = || AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", statement.sql));
            let rows: Vec<(i64, i64, i64, String)> =
                run!(connections, statement, sqlx::query_as(sql()), fetch_all)?;
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
        }
        #[cfg(feature = "postgres")]
        QueryDb::Postgres(connections) => {
            let sql = || AssertSqlSafe(format!("EXPLAIN {}", statement.sql));
            let query = || sqlx::query_scalar(sql()).persistent(false);
            let lines: Vec<String> = run!(connections, statement, query(), fetch_all)?;
            lines.join("\n")
        }
    })
}

/// Changes of a read model (`subscriptions.rs`): each row's model columns (the select
/// list), then the change's `seq` and `op`.
pub(crate) async fn changes(
    db: &QueryDb,
    model: &ReadModelDescriptor,
    statement: &Statement,
) -> Result<Vec<(RowValues, i64, String)>, ApiError> {
    use sqlx::Row;
    let n = model.columns.len();
    let sql = || AssertSqlSafe(statement.sql.clone());
    match db {
        #[cfg(feature = "sqlite")]
        QueryDb::Sqlite(connections) => {
            let rows = run!(connections, statement, sqlx::query(sql()), fetch_all)?;
            rows.iter()
                .map(|row| {
                    Ok((
                        sqlite_row(model, row)?,
                        row.try_get(n)?,
                        row.try_get(n + 1)?,
                    ))
                })
                .collect()
        }
        #[cfg(feature = "postgres")]
        QueryDb::Postgres(connections) => {
            let query = || sqlx::query(sql()).persistent(false);
            let rows = run!(connections, statement, query(), fetch_all)?;
            rows.iter()
                .map(|row| {
                    Ok((
                        postgres_row(model, row)?,
                        row.try_get(n)?,
                        row.try_get(n + 1)?,
                    ))
                })
                .collect()
        }
    }
}

/// The single integer a `SELECT COUNT(*)` returns.
pub(crate) async fn count(db: &QueryDb, statement: &Statement) -> Result<i64, ApiError> {
    let sql = || AssertSqlSafe(statement.sql.clone());
    Ok(match db {
        #[cfg(feature = "sqlite")]
        QueryDb::Sqlite(connections) => {
            run!(connections, statement, sqlx::query_scalar(sql()), fetch_one)?
        }
        #[cfg(feature = "postgres")]
        QueryDb::Postgres(connections) => {
            let query = || sqlx::query_scalar(sql()).persistent(false);
            run!(connections, statement, query(), fetch_one)?
        }
    })
}

/// Decodes the columns both backends store alike; `special` decodes the rest (times
/// and UUIDs, which SQLite keeps as integers and text) and returns `None` for the
/// columns it leaves to this function.
fn decode_row<R>(
    model: &ReadModelDescriptor,
    row: &R,
    special: impl Fn(usize, ColumnType) -> Result<Option<Value>, sqlx::Error>,
) -> Result<RowValues, ApiError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut values = Vec::with_capacity(model.columns.len());
    for (i, column) in model.columns.iter().enumerate() {
        if let Some(value) = special(i, column.ty)? {
            values.push(value);
            continue;
        }
        values.push(match column.ty {
            ColumnType::Integer => row
                .try_get::<Option<i64>, _>(i)?
                .map_or(Value::Null, Value::from),
            ColumnType::Real => row
                .try_get::<Option<f64>, _>(i)?
                .map_or(Value::Null, float_value),
            ColumnType::Boolean => row
                .try_get::<Option<bool>, _>(i)?
                .map_or(Value::Null, Value::Boolean),
            ColumnType::Json => json_value(row.try_get::<Option<String>, _>(i)?)?,
            ColumnType::Text | ColumnType::Uuid | ColumnType::Timestamp => row
                .try_get::<Option<String>, _>(i)?
                .map_or(Value::Null, Value::String),
        });
    }
    Ok(values)
}

#[cfg(feature = "sqlite")]
fn sqlite_row(
    model: &ReadModelDescriptor,
    row: &sqlx::sqlite::SqliteRow,
) -> Result<RowValues, ApiError> {
    // Times are microseconds since the epoch; UUIDs are text, like strings.
    decode_row(model, row, |i, ty| {
        Ok(match ty {
            ColumnType::Timestamp => Some(
                row.try_get::<Option<i64>, _>(i)?
                    .and_then(chrono::DateTime::from_timestamp_micros)
                    .map_or(Value::Null, time_value),
            ),
            _ => None,
        })
    })
}

#[cfg(feature = "postgres")]
fn postgres_row(
    model: &ReadModelDescriptor,
    row: &sqlx::postgres::PgRow,
) -> Result<RowValues, ApiError> {
    decode_row(model, row, |i, ty| {
        Ok(match ty {
            ColumnType::Timestamp => Some(
                row.try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i)?
                    .map_or(Value::Null, time_value),
            ),
            ColumnType::Uuid => Some(
                row.try_get::<Option<uuid::Uuid>, _>(i)?
                    .map_or(Value::Null, |id| Value::String(id.to_string())),
            ),
            _ => None,
        })
    })
}

fn json_value(text: Option<String>) -> Result<Value, ApiError> {
    let Some(text) = text else {
        return Ok(Value::Null);
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ApiError::Corrupt(e.to_string()))?;
    Value::from_json(json).map_err(|e| ApiError::Corrupt(e.to_string()))
}

#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::*;
    use crate::projection::ProjectionStore;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn queries_keep_connections_of_their_own_except_in_memory() {
        // In memory, the store's one connection is its writer: keeping it would stop
        // every write.
        let memory = SqliteStore::open_in_memory().await.unwrap();
        let QueryDb::Sqlite(connections) = memory.projection_db().for_queries() else {
            panic!("a SQLite store queries SQLite");
        };
        assert!(!connections.keeps());
        let dir = tempfile::tempdir().unwrap();
        let file = SqliteStore::open(dir.path().join("db.sqlite"))
            .await
            .unwrap();
        let QueryDb::Sqlite(connections) = file.projection_db().for_queries() else {
            panic!("a SQLite store queries SQLite");
        };
        assert!(connections.keeps());
    }
}
