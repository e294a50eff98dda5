//! The GraphQL API's SQL on PostgreSQL: `$n` placeholders, unprepared statements planned
//! for their values, JSON columns selected as text, and change rows populated into the
//! table's row type.

use async_graphql::Value;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPoolOptions, PgRow, Postgres};
use uuid::Uuid;

use crate::projection::read_model::{Column, ColumnType, ReadModelDescriptor};
use crate::store::sql::ddl::quote_ident;
use crate::store::sql::queries::{Bind, Connections, QueryDb, QueryRows, QuerySql, time_value};
use crate::store::sql::read_side::SqlDatabase;

impl QuerySql for Postgres {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    fn select_column(&self, column: &Column, quoted: String) -> String {
        match column.ty {
            ColumnType::Json => format!("{quoted}::text"),
            _ => quoted,
        }
    }

    fn distinct(&self, col: &str, p: &str) -> String {
        format!("{col} IS DISTINCT FROM {p}")
    }

    fn contains(&self, col: &str, p: &str) -> String {
        format!("strpos({col}, {p}) > 0")
    }

    fn starts_with(&self, col: &str, p: &str) -> String {
        format!("starts_with({col}, {p})")
    }

    fn like_insensitive(&self, col: &str, p: &str) -> String {
        format!("{col} ILIKE {p} ESCAPE '\\'")
    }

    fn nulls_first_by_default(&self, descending: bool) -> bool {
        // NULLs are the largest values.
        descending
    }

    fn bind_time(&self, at: DateTime<Utc>) -> Bind {
        Bind::Time(at)
    }

    fn bind_uuid(&self, id: Uuid) -> Bind {
        Bind::Uuid(id)
    }

    fn changes_table(&self) -> &'static str {
        "read_model_changes"
    }

    fn feed_rows(&self, model: &ReadModelDescriptor, version: u32, feed: &str) -> String {
        format!(
            "SELECT t.*, c.seq AS factum_change_seq, c.op AS factum_change_op \
             FROM read_model_changes c \
             CROSS JOIN LATERAL jsonb_populate_record(NULL::{}, c.row) AS t \
             WHERE {feed}",
            quote_ident(&model.table_for(version))
        )
    }

    fn is_missing_table(&self, err: &sqlx::Error) -> bool {
        // undefined_table
        err.as_database_error()
            .is_some_and(|e| e.code().as_deref() == Some("42P01"))
    }

    #[cfg(all(test, feature = "sqlite", feature = "postgres"))]
    fn explain(&self, sql: &str) -> String {
        format!("EXPLAIN {sql}")
    }
}

impl QueryRows for Postgres {
    const PREPARED: bool = false;

    fn decode_own(row: &PgRow, i: usize, ty: ColumnType) -> Result<Option<Value>, sqlx::Error> {
        Ok(match ty {
            ColumnType::Timestamp => Some(
                row.try_get::<Option<DateTime<Utc>>, _>(i)?
                    .map_or(Value::Null, time_value),
            ),
            ColumnType::Uuid => Some(
                row.try_get::<Option<Uuid>, _>(i)?
                    .map_or(Value::Null, |id| Value::String(id.to_string())),
            ),
            _ => None,
        })
    }

    const QUERY_SQL: &'static dyn QuerySql = &Postgres;

    /// The database the API queries: a pool of its own (as many connections as the store's),
    /// whose connections it keeps between queries. They let the planner plan each query for
    /// its values: the store forces generic plans, which suit its fixed statements but not
    /// filters whose selectivity depends on what the client asks.
    fn for_queries(db: &SqlDatabase<Self>) -> Box<dyn QueryDb> {
        let options = (*db.reader.connect_options())
            .clone()
            .options([("plan_cache_mode", "auto")]);
        let pool = PgPoolOptions::new()
            .max_connections(db.reader.options().get_max_connections())
            .connect_lazy_with(options);
        Box::new(Connections::new(pool, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[tokio::test]
    async fn a_kept_connection_that_died_is_replaced() {
        let Some(url) = crate::store::postgres::test_pg_url() else {
            return;
        };
        // One connection at most: the retry needs the dead one's place.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await
            .unwrap();
        let c = Connections::new(pool.clone(), true);
        assert!(c.keeps());
        let pid = || {
            c.run(|mut connection| async move {
                let pid = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
                    .fetch_one(&mut *connection)
                    .await;
                (connection, pid)
            })
        };
        let first = pid().await.unwrap();
        assert_eq!(
            pid().await.unwrap(),
            first,
            "the kept connection serves again"
        );
        assert_eq!(c.idle(), 1);
        // The server ends that session while the connection is kept.
        let mut other = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(first)
            .fetch_one(&mut other)
            .await
            .unwrap();
        assert!(killed);
        let second = pid().await.expect("retried on a fresh connection");
        assert_ne!(second, first);
        assert_eq!(pid().await.unwrap(), second);
    }
}
