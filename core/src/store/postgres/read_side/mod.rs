//! The read side on PostgreSQL: the statements of [`ReadSideTx`] inside a batch's
//! transaction and of [`ReadSidePools`] on the database's pool (its `search_path` is the
//! schema), with their SQL beside them (one folder per table).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::projection::ProjectionKey;
use crate::projection::database::{
    LetterFilter, LetterRow, NewLetter, ReadSidePools, ReadSideTx, Result, Settlement,
};
use crate::projection::dlq::DeadLetter;
use crate::projection::lease::HeldLease;
use crate::{EventId, Position};

/// A PostgreSQL database's pool, as the read side uses it.
pub(crate) struct PostgresReadSide<'a> {
    pub(crate) pool: &'a PgPool,
}

impl ReadSideTx for Transaction<'static, Postgres> {
    fn park<'a>(&'a mut self, letter: &'a NewLetter<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let event = letter.event;
            sqlx::query(include_str!("dead_letters/park.sql"))
                .bind(&letter.key.name)
                .bind(letter.key.version as i32)
                .bind(event.position.0 as i64)
                .bind(event.stream_id.as_str())
                .bind(event.stream_version as i64)
                .bind(event.event_id.as_uuid())
                .bind(&event.event_type)
                .bind(letter.reason)
                .bind(letter.attempts.min(i32::MAX as u32) as i32)
                .bind(letter.at)
                .bind(letter.kind.as_str())
                .execute(&mut **self)
                .await?;
            Ok(())
        })
    }

    fn stream_parked<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        stream: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar(include_str!("dead_letters/stream_parked.sql"))
                    .bind(&key.name)
                    .bind(key.version as i32)
                    .bind(stream)
                    .fetch_one(&mut **self)
                    .await?,
            )
        })
    }

    fn settle_letter<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        settlement: Settlement<'a>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (sql, why) = match settlement {
                Settlement::Remove => (include_str!("dead_letters/remove.sql"), None),
                Settlement::Skip(why) => (include_str!("dead_letters/skip.sql"), Some(why)),
            };
            let query = sqlx::query(sql)
                .bind(&key.name)
                .bind(key.version as i32)
                .bind(position.0 as i64);
            match why {
                Some(why) => query.bind(why).execute(&mut **self).await?,
                None => query.execute(&mut **self).await?,
            };
            Ok(())
        })
    }

    fn record_letter_failure<'a>(
        &'a mut self,
        key: &'a ProjectionKey,
        position: Position,
        reason: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query(include_str!("dead_letters/record_failure.sql"))
                .bind(&key.name)
                .bind(key.version as i32)
                .bind(position.0 as i64)
                .bind(reason)
                .bind(at)
                .execute(&mut **self)
                .await?;
            Ok(())
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

impl ReadSidePools for PostgresReadSide<'_> {
    fn try_lease<'a>(
        &'a self,
        key: &'a ProjectionKey,
        _owner: &'a str,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Box<dyn HeldLease>>>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?.detach();
            let got: bool = sqlx::query_scalar(include_str!("projections/take_lease.sql"))
                .bind(&key.name)
                .bind(key.version as i32)
                .fetch_one(&mut conn)
                .await?;
            Ok(got.then(|| Box::new(SessionLease(conn)) as Box<dyn HeldLease>))
        })
    }

    fn letters<'a>(
        &'a self,
        key: &'a ProjectionKey,
        filter: LetterFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>>> {
        Box::pin(async move {
            let rows = sqlx::query(include_str!("dead_letters/list.sql"))
                .bind(&key.name)
                .bind(key.version as i32)
                .bind(filter.stream)
                .bind(filter.parked_only)
                .fetch_all(self.pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(LetterRow {
                        position: row.try_get("position")?,
                        stream_id: row.try_get("stream_id")?,
                        stream_version: row.try_get("stream_version")?,
                        event_id: row.try_get("event_id")?,
                        event_type: row.try_get("event_type")?,
                        status: row.try_get("status")?,
                        reason: row.try_get("reason")?,
                        attempts: i64::from(row.try_get::<i32, _>("attempts")?),
                        parked_at: row.try_get("parked_at")?,
                        last_attempt_at: row.try_get("last_attempt_at")?,
                        skip_reason: row.try_get("skip_reason")?,
                        error_kind: row.try_get("error_kind")?,
                    }
                    .into_letter(key))
                })
                .collect()
        })
    }

    fn delivered<'a>(&'a self, consumer: &'a str, id: EventId) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(sqlx::query_scalar(include_str!("delivered/check.sql"))
                .bind(consumer)
                .bind(id.as_uuid())
                .fetch_one(self.pool)
                .await?)
        })
    }

    fn record_delivered<'a>(
        &'a self,
        consumer: &'a str,
        id: EventId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let done = sqlx::query(include_str!("delivered/record.sql"))
                .bind(consumer)
                .bind(id.as_uuid())
                .bind(at)
                .execute(self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}
