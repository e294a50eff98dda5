//! The read side on PostgreSQL: its SQL (one file per table; the pool's `search_path`
//! is the schema), times as `timestamptz`, and leases as session advisory locks. The
//! statements are run by the shared read side ([`crate::store::sql::read_side`]).

mod own_database;
#[cfg(feature = "graphql")]
mod queries;
mod rows;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::Postgres;

use crate::projection::ProjectionKey;
use crate::projection::changes::Changes;
use crate::projection::database::Result;
use crate::projection::lease::{HeldLease, LeaseAsk, Taken};
use crate::projection::read_model::Dialect;
use crate::store::sql::migrations::Step;
use crate::store::sql::read_side::{
    ReadSideSql, SqlDatabase, Statement, read_side_files, read_side_of, sql, version,
};

impl ReadSideSql for Postgres {
    type Time = DateTime<Utc>;
    /// A `text[]`.
    type Tables = Vec<String>;

    const DIALECT: Dialect = Dialect::Postgres;

    const SQL_FILES: &'static [&'static str] = &read_side_files!();

    const FENCES_BY_OWNER: bool = false;

    const MIGRATIONS: &'static [Step] = &super::MIGRATIONS;

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

    fn change_rows(changes: &Changes<'_>) -> Result<String> {
        // Rows as their fields, which `jsonb_populate_record` reads back as the table's
        // row type.
        let upserts = changes
            .upserts
            .iter()
            .map(|row| ("upsert", Value::Object(row.clone())));
        let deleted = changes.deleted.iter().map(|row| ("delete", row.clone()));
        let rows: Vec<Value> = upserts
            .chain(deleted)
            .map(|(op, row)| Value::Array(vec![op.into(), row]))
            .collect();
        Ok(Value::Array(rows).to_string())
    }

    fn try_lease<'a>(db: &'a SqlDatabase<Self>, ask: LeaseAsk<'a>) -> Taken<'a> {
        Box::pin(async move {
            // A connection of its own, detached from the pool: the lock lasts while the
            // runner holds it, and ends with it if the process dies.
            let mut conn = db.writer.acquire().await?.detach();
            let got: bool = sqlx::query_scalar(sql::<Postgres>(Statement::TakeLease))
                .bind(&ask.key.name)
                .bind(version(ask.key))
                .fetch_one(&mut conn)
                .await?;
            // The lock needs no owner and does not expire: it ends with its session.
            let _ = (ask.owner, ask.ttl);
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

read_side_of!(
    crate::PostgresStore,
    Postgres,
    sqlx::PgConnection,
    postgres,
    "PostgreSQL"
);
