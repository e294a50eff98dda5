//! The SQL behind the GraphQL read-model API: a query compiled from the client's
//! filter, ordering and cursors into one statement with numbered parameters (every value
//! the client sends is a bound parameter, never SQL text), and run on connections the API
//! keeps.
//!
//! What differs between the backends (placeholders, string functions, where `NULL`s
//! sort, how times are stored, the change feed's rows) is each backend's [`QuerySql`] and
//! [`QueryRows`], in `store/<backend>/read_side/queries.rs`; the composition here serves
//! both.

mod builder;
pub(crate) mod connections;
#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod index_plans;
pub(crate) mod statements;

use async_graphql::{Number, Value};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::future::BoxFuture;
use sqlx::database::HasStatementCache;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type,
};
use uuid::Uuid;

pub(crate) use builder::{Bind, Builder, Order, Statement};
pub(crate) use connections::Connections;
pub(crate) use statements::{Bounds, ChangesPage};

use crate::graphql::ApiError;
use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};
use crate::store::sql::read_side::SqlDatabase;

/// A read-model row: one value per column, in the descriptor's order.
pub(crate) type RowValues = Vec<Value>;

/// A change of a read model: its row, its `seq` and its `op`.
pub(crate) type ChangeRow = (RowValues, i64, String);

/// The SQL a backend writes its own way, for [`Builder`].
pub(crate) trait QuerySql: Send + Sync {
    /// The placeholder of the `n`th parameter (from 1).
    fn placeholder(&self, n: usize) -> String;

    /// `column` (quoted as `quoted`) in a select list, as its rows are decoded.
    fn select_column(&self, column: &Column, quoted: String) -> String;

    /// `col` is not `p`, `NULL` being a value like any other.
    fn distinct(&self, col: &str, p: &str) -> String;

    /// `col` contains the text `p`.
    fn contains(&self, col: &str, p: &str) -> String;

    /// `col` starts with the text `p`.
    fn starts_with(&self, col: &str, p: &str) -> String;

    /// `col` matches the `LIKE` pattern `p` (escaped with `\`), whatever the case.
    fn like_insensitive(&self, col: &str, p: &str) -> String;

    /// Whether `NULL`s come first in an ordering that does not say.
    fn nulls_first_by_default(&self, descending: bool) -> bool;

    /// A time as the backend's read-model tables store it.
    fn bind_time(&self, at: DateTime<Utc>) -> Bind;

    /// A UUID as the backend's read-model tables store it.
    fn bind_uuid(&self, id: Uuid) -> Bind;

    /// The change feed's table.
    fn changes_table(&self) -> &'static str;

    /// The changes selected by `feed` (the change feed aliased `c`), each change's row as
    /// the columns of `model`'s table of `version`, then `factum_change_seq` and
    /// `factum_change_op`.
    fn feed_rows(&self, model: &ReadModelDescriptor, version: u32, feed: &str) -> String;

    /// Whether `err` says the table does not exist.
    fn is_missing_table(&self, err: &sqlx::Error) -> bool;

    /// The statement that shows the query plan of `sql`.
    #[cfg(all(test, feature = "sqlite", feature = "postgres"))]
    fn explain(&self, sql: &str) -> String;
}

/// How a backend reads the API's rows (each backend's `read_side/queries.rs`).
pub(crate) trait QueryRows: Database + HasStatementCache + QuerySql {
    /// Whether statements are prepared and kept. (PostgreSQL plans an unnamed statement
    /// with its parameters' values; a prepared one soon runs on a generic plan, which
    /// guesses a filter's selectivity and can pick a full scan and sort over an index.)
    const PREPARED: bool;

    /// Decodes column `i` if the backend stores its type its own way (times, UUIDs);
    /// `None` leaves it to the shared decoding.
    fn decode_own(row: &Self::Row, i: usize, ty: ColumnType) -> Result<Option<Value>, sqlx::Error>;

    /// The backend's [`QuerySql`].
    const QUERY_SQL: &'static dyn QuerySql;

    /// The database the API queries, through connections of its own (see
    /// [`Connections`]).
    fn for_queries(db: &SqlDatabase<Self>) -> Box<dyn QueryDb>;
}

/// The database the API queries, through connections of its own.
pub(crate) trait QueryDb: Send + Sync {
    /// Its SQL.
    fn sql(&self) -> &'static dyn QuerySql;

    /// The rows a statement selects (its select list is [`Builder::select_list`]).
    fn rows<'a>(
        &'a self,
        model: &'a ReadModelDescriptor,
        statement: &'a Statement,
    ) -> BoxFuture<'a, Result<Vec<RowValues>, ApiError>>;

    /// Changes of a read model ([`ChangesPage`]): each row's model columns, then the
    /// change's `seq` and `op`.
    fn changes<'a>(
        &'a self,
        model: &'a ReadModelDescriptor,
        statement: &'a Statement,
    ) -> BoxFuture<'a, Result<Vec<ChangeRow>, ApiError>>;

    /// The single integer a statement selects.
    fn count<'a>(&'a self, statement: &'a Statement) -> BoxFuture<'a, Result<i64, ApiError>>;

    /// Whether it keeps connections between queries.
    #[cfg(all(test, feature = "sqlite"))]
    fn keeps(&self) -> bool;

    /// The query plan of `statement`, as text, run the way [`rows`](Self::rows) runs it.
    #[cfg(all(test, feature = "sqlite", feature = "postgres"))]
    fn explain<'a>(&'a self, statement: &'a Statement) -> BoxFuture<'a, Result<String, ApiError>>;
}

/// Runs `$query` with `$statement`'s values bound on one of `$connections`, fetching
/// with `$fetch`.
macro_rules! run {
    ($connections:expr, $statement:expr, $query:expr, $fetch:ident) => {
        $connections
            .run(|mut connection| async move {
                let mut query = $query.persistent(DB::PREPARED);
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

impl<DB> QueryDb for Connections<DB>
where
    DB: QueryRows,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> f64: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> f64: Decode<'r, DB>,
    for<'r> bool: Decode<'r, DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn sql(&self) -> &'static dyn QuerySql {
        DB::QUERY_SQL
    }

    fn rows<'a>(
        &'a self,
        model: &'a ReadModelDescriptor,
        statement: &'a Statement,
    ) -> BoxFuture<'a, Result<Vec<RowValues>, ApiError>> {
        Box::pin(async move {
            let sql = || AssertSqlSafe(statement.sql.clone());
            let rows = run!(self, statement, sqlx::query(sql()), fetch_all)?;
            rows.iter()
                .map(|row| decode_row::<DB>(model, row))
                .collect()
        })
    }

    fn changes<'a>(
        &'a self,
        model: &'a ReadModelDescriptor,
        statement: &'a Statement,
    ) -> BoxFuture<'a, Result<Vec<ChangeRow>, ApiError>> {
        Box::pin(async move {
            let n = model.columns.len();
            let sql = || AssertSqlSafe(statement.sql.clone());
            let rows = run!(self, statement, sqlx::query(sql()), fetch_all)?;
            rows.iter()
                .map(|row| {
                    Ok((
                        decode_row::<DB>(model, row)?,
                        row.try_get(n)?,
                        row.try_get(n + 1)?,
                    ))
                })
                .collect()
        })
    }

    fn count<'a>(&'a self, statement: &'a Statement) -> BoxFuture<'a, Result<i64, ApiError>> {
        Box::pin(async move {
            let sql = || AssertSqlSafe(statement.sql.clone());
            Ok(run!(self, statement, sqlx::query_scalar(sql()), fetch_one)?)
        })
    }

    #[cfg(all(test, feature = "sqlite"))]
    fn keeps(&self) -> bool {
        Connections::keeps(self)
    }

    #[cfg(all(test, feature = "sqlite", feature = "postgres"))]
    fn explain<'a>(&'a self, statement: &'a Statement) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            let sql = || AssertSqlSafe(DB::QUERY_SQL.explain(&statement.sql));
            let rows = run!(self, statement, sqlx::query(sql()), fetch_all)?;
            // The plan's text is the last column on either backend.
            let lines = rows
                .iter()
                .map(|row| row.try_get::<String, _>(row.len() - 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(lines.join("\n"))
        })
    }
}

/// Decodes a row of `model`'s columns: what the backend stores its own way by
/// [`QueryRows::decode_own`], the rest alike.
fn decode_row<DB>(model: &ReadModelDescriptor, row: &DB::Row) -> Result<RowValues, ApiError>
where
    DB: QueryRows,
    usize: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> f64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
{
    let mut values = Vec::with_capacity(model.columns.len());
    for (i, column) in model.columns.iter().enumerate() {
        if let Some(value) = DB::decode_own(row, i, column.ty)? {
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

/// A time as the API shows it: RFC 3339 with microseconds, in UTC.
pub(crate) fn time_value(at: DateTime<Utc>) -> Value {
    Value::String(at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// A float as the API shows it (`null` if not finite).
pub(crate) fn float_value(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn json_value(text: Option<String>) -> Result<Value, ApiError> {
    let Some(text) = text else {
        return Ok(Value::Null);
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ApiError::Corrupt(e.to_string()))?;
    Value::from_json(json).map_err(|e| ApiError::Corrupt(e.to_string()))
}
