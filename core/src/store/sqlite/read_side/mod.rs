//! The read side on SQLite: its SQL (one file per table), times as microseconds since
//! the epoch, and leases as rows of `factum_projections` renewed while running. The
//! statements are run by the shared read side ([`crate::store::sql::read_side`]).

mod own_database;
#[cfg(feature = "graphql")]
mod queries;
mod rows;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::{Sqlite, SqlitePool};

use serde_json::{Map, Value};

use crate::projection::ProjectionKey;
use crate::projection::changes::Changes;
use crate::projection::database::Result;
use crate::projection::lease::{HeldLease, LeaseAsk, Taken};
use crate::projection::read_model::Dialect;
use crate::store::sql::migrations::Step;
use crate::store::sql::read_side::{
    ReadSideSql, SqlDatabase, Statement, read_side_files, read_side_of, sql, version,
};

impl ReadSideSql for Sqlite {
    type Time = i64;
    /// A JSON array of names.
    type Tables = String;

    const DIALECT: Dialect = Dialect::Sqlite;

    const SQL_FILES: &'static [&'static str] = &read_side_files!();

    const FENCES_BY_OWNER: bool = true;

    const MIGRATIONS: &'static [Step] = &super::MIGRATIONS;

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

    fn change_rows(changes: &Changes<'_>) -> Result<String> {
        // Rows as the table holds them, so that a filter reads them as it reads the table.
        let model = changes.model;
        let stored = |fields: &Map<String, Value>| -> Result<Value> {
            let values = rows::stored_values(model, fields)?;
            let names = model.columns.iter().map(|c| c.name.to_owned());
            Ok(Value::Object(names.zip(values).collect()))
        };
        let empty = Map::new();
        let mut rows = Vec::with_capacity(changes.upserts.len() + changes.deleted.len());
        for row in changes.upserts {
            rows.push(Value::Array(vec!["upsert".into(), stored(row)?]));
        }
        for row in changes.deleted {
            let fields = row.as_object().unwrap_or(&empty);
            rows.push(Value::Array(vec!["delete".into(), stored(fields)?]));
        }
        Ok(Value::Array(rows).to_string())
    }

    fn try_lease<'a>(db: &'a SqlDatabase<Self>, ask: LeaseAsk<'a>) -> Taken<'a> {
        let LeaseAsk { key, owner, ttl } = ask;
        Box::pin(async move {
            let taken = sqlx::query(sql::<Sqlite>(Statement::TakeLease))
                .bind(&key.name)
                .bind(version(key))
                .bind(owner)
                .bind(expiry(ttl))
                .bind(Utc::now().timestamp_micros())
                .execute(&db.writer)
                .await?;
            Ok((taken.rows_affected() == 1).then(|| {
                Box::new(RowLease {
                    writer: db.writer.clone(),
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
    Utc::now()
        .timestamp_micros()
        .saturating_add(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX))
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
            let renewed = sqlx::query(sql::<Sqlite>(Statement::RenewLease))
                .bind(&key.name)
                .bind(version(key))
                .bind(&self.owner)
                .bind(expiry(ttl))
                .execute(&self.writer)
                .await?;
            Ok(renewed.rows_affected() == 1)
        })
    }

    fn release<'a>(self: Box<Self>, key: &'a ProjectionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(sql::<Sqlite>(Statement::ReleaseLease))
                .bind(&key.name)
                .bind(version(key))
                .bind(&self.owner)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
    }
}

read_side_of!(
    crate::SqliteStore,
    Sqlite,
    sqlx::SqliteConnection,
    sqlite,
    "SQLite"
);
