//! The GraphQL API's SQL on SQLite: `?n` placeholders, times as microseconds since the
//! epoch, UUIDs as text, and change rows read out of their JSON.

use async_graphql::Value;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{Sqlite, SqlitePoolOptions, SqliteRow};
use uuid::Uuid;

use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};
use crate::store::sql::ddl::quote_ident;
use crate::store::sql::queries::{Bind, Connections, QueryDb, QueryRows, QuerySql, time_value};
use crate::store::sql::read_side::SqlDatabase;

impl QuerySql for Sqlite {
    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    fn select_column(&self, _column: &Column, quoted: String) -> String {
        quoted
    }

    fn distinct(&self, col: &str, p: &str) -> String {
        format!("{col} IS NOT {p}")
    }

    fn contains(&self, col: &str, p: &str) -> String {
        format!("instr({col}, {p}) > 0")
    }

    fn starts_with(&self, col: &str, p: &str) -> String {
        format!("substr({col}, 1, length({p})) = {p}")
    }

    fn like_insensitive(&self, col: &str, p: &str) -> String {
        format!("lower({col}) LIKE lower({p}) ESCAPE '\\'")
    }

    fn nulls_first_by_default(&self, descending: bool) -> bool {
        // NULLs are the smallest values.
        !descending
    }

    fn bind_time(&self, at: DateTime<Utc>) -> Bind {
        Bind::Int(at.timestamp_micros())
    }

    fn bind_uuid(&self, id: Uuid) -> Bind {
        Bind::Text(id.to_string())
    }

    fn changes_table(&self) -> &'static str {
        "factum_read_model_changes"
    }

    fn feed_rows(&self, model: &ReadModelDescriptor, _version: u32, feed: &str) -> String {
        let columns: Vec<String> = model
            .columns
            .iter()
            .map(|c| {
                format!(
                    "json_extract(c.row, '$.{}') AS {}",
                    c.name,
                    quote_ident(c.name)
                )
            })
            .collect();
        format!(
            "SELECT {}, c.seq AS factum_change_seq, c.op AS factum_change_op \
             FROM factum_read_model_changes c WHERE {feed}",
            columns.join(", ")
        )
    }

    fn is_missing_table(&self, err: &sqlx::Error) -> bool {
        err.as_database_error()
            .is_some_and(|e| e.message().contains("no such table"))
    }

    #[cfg(all(test, feature = "sqlite", feature = "postgres"))]
    fn explain(&self, sql: &str) -> String {
        format!("EXPLAIN QUERY PLAN {sql}")
    }
}

impl QueryRows for Sqlite {
    const PREPARED: bool = true;

    fn decode_own(row: &SqliteRow, i: usize, ty: ColumnType) -> Result<Option<Value>, sqlx::Error> {
        // Times are microseconds since the epoch; UUIDs are text, like strings.
        Ok(match ty {
            ColumnType::Timestamp => Some(
                row.try_get::<Option<i64>, _>(i)?
                    .and_then(DateTime::from_timestamp_micros)
                    .map_or(Value::Null, time_value),
            ),
            _ => None,
        })
    }

    const QUERY_SQL: &'static dyn QuerySql = &Sqlite;

    /// The database the API queries: a pool of its own on the same file (as many
    /// connections as the store reads with), whose connections it keeps between queries;
    /// in memory, where the one connection is the store's writer too, the store's own pool,
    /// whose connections it hands back after each query.
    fn for_queries(db: &SqlDatabase<Self>) -> Box<dyn QueryDb> {
        let options = db.reader.connect_options();
        if std::sync::Arc::ptr_eq(&options, &db.writer.connect_options()) {
            return Box::new(Connections::new(db.reader.clone(), false));
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(db.reader.options().get_max_connections())
            .connect_lazy_with((*options).clone());
        Box::new(Connections::new(pool, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::ProjectionStore;
    use crate::store::sql::queries::connections::execute;
    use crate::store::sqlite::SqliteStore;

    async fn pool(dir: &tempfile::TempDir) -> sqlx::SqlitePool {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("db.sqlite"))
            .create_if_missing(true);
        SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn queries_keep_connections_of_their_own_except_in_memory() {
        // In memory, the store's one connection is its writer: keeping it would stop
        // every write.
        let memory = SqliteStore::open_in_memory().await.unwrap();
        let db = memory.projection_db();
        assert!(!Sqlite::for_queries(db.sqlite().unwrap()).keeps());
        let dir = tempfile::tempdir().unwrap();
        let file = SqliteStore::open(dir.path().join("db.sqlite"))
            .await
            .unwrap();
        let db = file.projection_db();
        assert!(Sqlite::for_queries(db.sqlite().unwrap()).keeps());
    }

    #[tokio::test]
    async fn a_connection_is_kept_after_success_and_not_after_failure() {
        let dir = tempfile::tempdir().unwrap();
        let c = Connections::new(pool(&dir).await, true);
        // A temporary table lives in its connection: the next query sees it only on the
        // same one.
        execute(&c, "CREATE TEMP TABLE mine (x)").await.unwrap();
        assert_eq!(c.idle(), 1);
        execute(&c, "INSERT INTO mine VALUES (1)").await.unwrap();
        assert_eq!(c.idle(), 1);
        assert!(execute(&c, "SELECT * FROM no_such_table").await.is_err());
        assert_eq!(
            c.idle(),
            0,
            "a failed query's connection goes back to the pool"
        );

        let shared = Connections::new(pool(&dir).await, false);
        execute(&shared, "SELECT 1").await.unwrap();
        assert_eq!(
            shared.idle(),
            0,
            "a shared pool's connections are never kept"
        );
    }

    #[test]
    fn kept_connections_can_be_dropped_after_their_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let c = runtime.block_on(async {
            let c = Connections::new(pool(&dir).await, true);
            execute(&c, "SELECT 1").await.unwrap();
            c
        });
        assert_eq!(c.idle(), 1);
        drop(runtime);
        // Handing the connection back to its pool would need the runtime: this panicked.
        drop(c);
    }
}
