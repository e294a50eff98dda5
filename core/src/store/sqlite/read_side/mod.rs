//! The read side on SQLite: its SQL (one folder per table), times as microseconds since
//! the epoch, and leases as rows of `factum_projections` renewed while running. The
//! statements are run by the shared read side ([`crate::store::read_side`]).

mod own_database;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::{Sqlite, SqlitePool};

use crate::projection::ProjectionKey;
use crate::projection::database::Result;
use crate::projection::lease::HeldLease;
use crate::store::read_side::{ReadSideSql, SqlPools};
use crate::store::sql::named;

impl ReadSideSql for Sqlite {
    type Time = i64;
    /// A JSON array of names.
    type Tables = String;

    const SQL_FILES: &'static [&'static str] = &[
        include_str!("dead_letters.sql"),
        include_str!("delivered.sql"),
        include_str!("projections.sql"),
    ];

    const FENCES_BY_OWNER: bool = true;

    fn tables(tables: &[String]) -> String {
        serde_json::Value::from(tables).to_string()
    }

    fn tables_of(stored: String) -> Vec<String> {
        serde_json::from_str(&stored).unwrap_or_default()
    }

    fn time(at: DateTime<Utc>) -> i64 {
        at.timestamp_micros()
    }

    fn time_of(stored: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(stored).unwrap_or_default()
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn try_lease<'a>(
        pools: &'a SqlPools<'a, Self>,
        key: &'a ProjectionKey,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Box<dyn HeldLease>>>> {
        Box::pin(async move {
            let taken = sqlx::query(named(Self::SQL_FILES, "take_lease"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(owner)
                .bind(expiry(ttl))
                .bind(Utc::now().timestamp_micros())
                .execute(pools.writer)
                .await?;
            Ok((taken.rows_affected() == 1).then(|| {
                Box::new(RowLease {
                    writer: pools.writer.clone(),
                    owner: owner.to_owned(),
                }) as Box<dyn HeldLease>
            }))
        })
    }
}

/// A lease row of `factum_projections`, this owner's until it expires.
#[derive(Debug)]
struct RowLease {
    writer: SqlitePool,
    owner: String,
}

/// When a lease taken or renewed now for `ttl` expires.
fn expiry(ttl: Duration) -> i64 {
    Utc::now().timestamp_micros() + i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 2)
}

impl HeldLease for RowLease {
    fn owner(&self) -> Option<&str> {
        Some(&self.owner)
    }

    fn renew<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let renewed = sqlx::query(named(Sqlite::SQL_FILES, "renew_lease"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(&self.owner)
                .bind(expiry(ttl))
                .execute(&self.writer)
                .await?;
            Ok(renewed.rows_affected() == 1)
        })
    }

    fn release<'a>(self: Box<Self>, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(named(Sqlite::SQL_FILES, "release_lease"))
                .bind(&key.name)
                .bind(i64::from(key.version))
                .bind(&self.owner)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
    }
}
