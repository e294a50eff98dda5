//! The read side on PostgreSQL: its SQL (one file per table; the pool's `search_path`
//! is the schema), times as `timestamptz`, and leases as session advisory locks. The
//! statements are run by the shared read side ([`crate::store::read_side`]).

mod own_database;
#[cfg(feature = "graphql")]
mod queries;
mod rows;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::Postgres;

use crate::projection::changes::Changes;
use crate::projection::database::Result;
use crate::projection::lease::HeldLease;
use crate::projection::read_model::Dialect;
use crate::projection::{ProjectionDb, ProjectionKey, ProjectionStore, ProjectionTx};
use crate::store::read_side::{ReadSideSql, SqlDatabase, Statement, sql, version};

impl ReadSideSql for Postgres {
    type Time = DateTime<Utc>;
    /// A `text[]`.
    type Tables = Vec<String>;

    const DIALECT: Dialect = Dialect::Postgres;

    const SQL_FILES: &'static [&'static str] = &[
        include_str!("dead_letters.sql"),
        include_str!("delivered.sql"),
        include_str!("projections.sql"),
        include_str!("changes.sql"),
        include_str!("transactions.sql"),
    ];

    const FENCES_BY_OWNER: bool = false;

    fn tables(tables: &[String]) -> Vec<String> {
        tables.to_vec()
    }

    fn tables_of(stored: Vec<String>) -> Vec<String> {
        stored
    }

    fn time(at: DateTime<Utc>) -> DateTime<Utc> {
        at
    }

    fn time_of(stored: DateTime<Utc>) -> DateTime<Utc> {
        stored
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn record_changes<'a>(
        tx: &'a mut sqlx::Transaction<'static, Self>,
        changes: &'a Changes<'a>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let count = changes.upserts.len() + changes.deleted.len();
            let mut ops = Vec::with_capacity(count);
            let mut rows = Vec::with_capacity(count);
            for row in changes.upserts {
                ops.push("upsert");
                rows.push(serde_json::Value::Object(row.clone()).to_string());
            }
            for row in changes.deleted {
                ops.push("delete");
                rows.push(row.to_string());
            }
            let version = i32::try_from(changes.version).unwrap_or(i32::MAX);
            sqlx::query(sql::<Postgres>(Statement::RecordChanges))
                .bind(changes.projection)
                .bind(version)
                .bind(changes.model.table)
                .bind(ops)
                .bind(rows)
                .bind(changes.at)
                .execute(&mut **tx)
                .await?;
            Ok(())
        })
    }

    #[cfg(feature = "graphql")]
    fn for_queries(db: &SqlDatabase<Self>) -> Box<dyn crate::store::queries::QueryDb> {
        queries::for_queries(db)
    }

    fn try_lease<'a>(
        db: &'a SqlDatabase<Self>,
        key: &'a ProjectionKey,
        _owner: &'a str,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Box<dyn HeldLease>>>> {
        Box::pin(async move {
            // A connection of its own, detached from the pool: the lock lasts while the
            // runner holds it, and ends with it if the process dies.
            let mut conn = db.writer.acquire().await?.detach();
            let got: bool = sqlx::query_scalar(sql::<Postgres>(Statement::TakeLease))
                .bind(&key.name)
                .bind(version(key))
                .fetch_one(&mut conn)
                .await?;
            Ok(got.then(|| Box::new(SessionLease(conn)) as Box<dyn HeldLease>))
        })
    }
}

/// A session advisory lock, held on a connection of its own for as long as the lease is.
#[derive(Debug)]
struct SessionLease(sqlx::PgConnection);

impl HeldLease for SessionLease {
    fn owner(&self) -> Option<&str> {
        None
    }

    fn renew<'a>(
        &'a mut self,
        _key: &'a ProjectionKey,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<bool>> {
        // The lock lives as long as the connection does.
        Box::pin(async move { Ok(sqlx::Connection::ping(&mut self.0).await.is_ok()) })
    }

    fn release<'a>(self: Box<Self>, _key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::Connection::close(self.0).await?;
            Ok(())
        })
    }
}

/// A store keeps its projections in its own database.
impl ProjectionStore for crate::PostgresStore {
    fn projection_db(&self) -> ProjectionDb {
        ProjectionDb::new(SqlDatabase {
            writer: self.pool().clone(),
            reader: self.pool().clone(),
            schema: Some(self.schema().into()),
        })
    }
}

impl ProjectionDb {
    /// The PostgreSQL database, if the read models are in PostgreSQL.
    pub fn postgres(&self) -> Option<&SqlDatabase<Postgres>> {
        self.sql()
    }
}

impl ProjectionTx {
    /// The PostgreSQL connection inside the transaction, if the read models are in
    /// PostgreSQL. The row changes made so far are written first, so your SQL sees them.
    pub async fn postgres(&mut self) -> Result<Option<&mut sqlx::PgConnection>> {
        self.connection::<Postgres>().await
    }
}
